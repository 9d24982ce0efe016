/**
 * `deno task ops`: what an operator must look at — webhook events whose effect keeps
 * failing, refund and dispute events still waiting for their payment, orders flagged
 * for review, outbox messages that gave up, disputed orders, failed refunds, refund
 * requests still waiting for Stripe's answer, a cleanup that has not run for a while
 * (or ever), the outbox backlog and where reconciliation with Stripe stands. Reads
 * public.webhook_ops_report, public.payments_ops_report and public.delivery_ops_report
 * through the API with the service_role key, so it works against the local stack and
 * hosted Supabase alike. `--requeue=<id>` gives a dead outbox message a fresh set of
 * attempts instead.
 *
 *   SUPABASE_URL=… SUPABASE_SECRET_KEY=… deno task ops [--min-attempts=N] [--days=N]
 *     [--cleanup-max-age-minutes=N] [--json]
 *   SUPABASE_URL=… SUPABASE_SECRET_KEY=… deno task ops --requeue=<outbox id>
 *
 * The key: SUPABASE_SECRET_KEY (an `sb_secret_…` key), else the legacy
 * SUPABASE_SERVICE_ROLE_KEY. Locally both default: the gateway at http://127.0.0.1:54321 and
 * a legacy service_role key minted with SUPABASE_JWT_SECRET (or the local-development secret).
 * Exit code: 0 nothing to do, 1 something needs attention, 2 the report failed.
 */
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import type { Database } from "../../supabase/functions/_shared/database.types.ts";
import { DEFAULT_JWT_SECRET, mintServiceRoleKey } from "../stack/jwt.ts";

interface WebhookReport {
  failing_events: {
    stripe_event_id: string;
    type: string;
    attempts: number;
    last_error: string | null;
    object_id: string | null;
    updated_at: string;
  }[];
  deferred_events: {
    stripe_event_id: string;
    type: string;
    order_id: string | null;
    received_at: string;
  }[];
  orders_needing_review: {
    order_id: string;
    status: string;
    review_reason: string | null;
    amount_total: number;
    currency: string;
    checkout_session_id: string | null;
  }[];
  dead_outbox_messages: {
    id: number;
    topic: string;
    order_id: string | null;
    attempts: number;
    last_error: string | null;
  }[];
  cleanup: {
    last_ran_at: string | null;
    runs_last_24h: number;
    expired_orders_last_24h: number;
  };
}

/** pg_cron runs the cleanup every 15 minutes; an hour without a run means it stopped. */
const DEFAULT_CLEANUP_MAX_AGE_MINUTES = 60;

interface PaymentsReport {
  disputed_orders: {
    order_id: string;
    status: string;
    dispute_id: string;
    dispute_reason: string | null;
    dispute_status: string | null;
    dispute_outcome: "won" | "lost" | null;
    dispute_amount: number | null;
    currency: string;
    disputed_at: string;
  }[];
  failed_refunds: {
    refund_request_id: string;
    stripe_refund_id: string | null;
    order_id: string;
    order_status: string;
    amount: number;
    currency: string;
    failure_reason: string | null;
    failed_at: string;
    refundable: number;
  }[];
  unanswered_refunds: {
    refund_request_id: string;
    order_id: string;
    amount: number;
    currency: string;
    created_by_key: string;
    created_at: string;
  }[];
}

interface DeliveryReport {
  outbox: {
    pending: number;
    retrying: number;
    in_flight: number;
    dead: number;
    oldest_due_at: string | null;
    last_error: string | null;
  };
  reconcile: {
    cursor_event_id: string | null;
    cursor_created: string | null;
    scanning: boolean;
    last_run_at: string | null;
    last_summary: Record<string, unknown> | null;
    sessions_to_expire: number;
  };
}

type Report = WebhookReport & PaymentsReport & DeliveryReport;

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

/** `--name=N` as a whole number ≥ 1 (`fallback` when absent); undefined, said why, otherwise. */
function wholeFlag(name: string, fallback: number): number | undefined {
  const value = Number(flag(name) ?? fallback);
  if (Number.isInteger(value) && value >= 1) return value;
  console.error(`--${name} must be a whole number ≥ 1, got ${flag(name)}`);
  return undefined;
}

async function main(): Promise<number> {
  const url = Deno.env.get("SUPABASE_URL") || "http://127.0.0.1:54321";
  const key = Deno.env.get("SUPABASE_SECRET_KEY") || Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ||
    await mintServiceRoleKey(Deno.env.get("SUPABASE_JWT_SECRET") || DEFAULT_JWT_SECRET);
  const minAttempts = wholeFlag("min-attempts", 2);
  if (minAttempts === undefined) return 2;
  const maxAge = wholeFlag("cleanup-max-age-minutes", DEFAULT_CLEANUP_MAX_AGE_MINUTES);
  if (maxAge === undefined) return 2;
  const days = wholeFlag("days", 30);
  if (days === undefined) return 2;
  const db = createClient<Database>(url, key, { auth: { persistSession: false } });
  const requeue = flag("requeue");
  if (requeue !== undefined) return await requeueMessage(db, url, requeue);
  const [webhooks, payments, delivery] = await Promise.all([
    db.rpc("webhook_ops_report", { p_min_attempts: minAttempts }),
    db.rpc("payments_ops_report", { p_days: days }),
    db.rpc("delivery_ops_report", {}),
  ]);
  const reports = [["webhook", webhooks], ["payments", payments], ["delivery", delivery]] as const;
  for (const [name, { error }] of reports) {
    if (error) {
      console.error(`${name}_ops_report failed at ${url}: ${error.message}`);
      return 2;
    }
  }
  const report: Report = {
    ...(webhooks.data as unknown as WebhookReport),
    ...(payments.data as unknown as PaymentsReport),
    ...(delivery.data as unknown as DeliveryReport),
  };
  const cleanupAge = cleanupAgeMinutes(report.cleanup.last_ran_at);
  const cleanupOverdue = cleanupAge === undefined || cleanupAge > maxAge;
  if (Deno.args.includes("--json")) {
    console.log(
      JSON.stringify(
        { ...report, cleanup: { ...report.cleanup, overdue: cleanupOverdue } },
        null,
        2,
      ),
    );
  } else {
    print(report, minAttempts, days);
    printDelivery(report);
    const when = report.cleanup.last_ran_at === null
      ? "never"
      : `${new Date(report.cleanup.last_ran_at).toISOString()} (${cleanupAge} min ago)`;
    console.log(
      `Cleanup last ran: ${when}${
        cleanupOverdue
          ? ` — overdue (more than ${maxAge} min): abandoned reservations keep their stock; ` +
            "check the pg_cron job or run public.cleanup_expired_idempotency_keys()"
          : `; in the last 24 h: runs ${report.cleanup.runs_last_24h}, ` +
            `orders expired ${report.cleanup.expired_orders_last_24h}`
      }`,
    );
  }
  const findings = report.failing_events.length + report.deferred_events.length +
    report.orders_needing_review.length + report.dead_outbox_messages.length +
    report.disputed_orders.length + report.failed_refunds.length +
    report.unanswered_refunds.length + (cleanupOverdue ? 1 : 0);
  return findings === 0 ? 0 : 1;
}

function print(report: Report, minAttempts: number, days: number): void {
  section(
    `Webhook events failing (≥ ${minAttempts} attempts; Stripe keeps retrying for 3 days)`,
    report.failing_events.map((e) =>
      `${e.stripe_event_id}  ${e.type}  ${e.object_id ?? ""}  attempts=${e.attempts}  ` +
      `last=${e.updated_at}\n      ${e.last_error ?? ""}`
    ),
  );
  section(
    "Refund and dispute events waiting for their payment",
    report.deferred_events.map((e) =>
      `${e.stripe_event_id}  ${e.type}  order=${e.order_id}  since ${e.received_at}`
    ),
  );
  section(
    "Orders flagged for review",
    report.orders_needing_review.map((o) =>
      `${o.order_id}  ${o.status}  ${o.amount_total} ${o.currency}  ` +
      `${o.checkout_session_id ?? ""}\n      ${o.review_reason ?? ""}`
    ),
  );
  section(
    "Outbox messages that gave up",
    report.dead_outbox_messages.map((m) =>
      `#${m.id}  ${m.topic}  order=${m.order_id}  attempts=${m.attempts}\n      ${
        m.last_error ?? ""
      }`
    ),
  );
  section(
    `Disputed orders (open, or closed in the last ${days} days)`,
    report.disputed_orders.map((d) =>
      `${d.order_id}  ${d.status}  ${d.dispute_id}  ${d.dispute_reason ?? ""}  ` +
      `${d.dispute_outcome ?? `open (${d.dispute_status ?? "?"})`}  ` +
      `${d.dispute_amount ?? "?"} ${d.currency}  since ${d.disputed_at}`
    ),
  );
  section(
    `Refunds that failed (last ${days} days; the amount is refundable again)`,
    report.failed_refunds.map((r) =>
      `${r.stripe_refund_id ?? "(rejected by Stripe)"}  order=${r.order_id} (${r.order_status})  ` +
      `${r.amount} ${r.currency}  refundable=${r.refundable}  at ${r.failed_at}\n      ${
        r.failure_reason ?? ""
      }`
    ),
  );
  section(
    "Refund requests waiting for Stripe's answer (retry with the same Idempotency-Key)",
    report.unanswered_refunds.map((r) =>
      `${r.refund_request_id}  order=${r.order_id}  ${r.amount} ${r.currency}  ` +
      `key=${r.created_by_key}  since ${r.created_at}`
    ),
  );
}

function printDelivery(report: DeliveryReport): void {
  const o = report.outbox;
  console.log(
    `Outbox backlog: ${o.pending} new, ${o.retrying} retrying, ${o.in_flight} in flight, ` +
      `${o.dead} dead${o.oldest_due_at ? `; oldest due ${o.oldest_due_at}` : ""}`,
  );
  if (o.last_error) console.log(`  latest failure: ${o.last_error}`);
  const r = report.reconcile;
  console.log(
    `Reconciliation: ${
      r.cursor_event_id
        ? `cursor ${r.cursor_event_id} (${r.cursor_created})`
        : r.scanning
        ? "first scan of Stripe's events in progress"
        : "no cursor yet"
    }; last run ${r.last_run_at ?? "never"}; ${r.sessions_to_expire} released orders whose ` +
      "session may still be open",
  );
  if (r.last_summary) console.log(`  last summary: ${JSON.stringify(r.last_summary)}`);
}

async function requeueMessage(
  db: ReturnType<typeof createClient<Database>>,
  url: string,
  id: string,
): Promise<number> {
  if (!/^[1-9][0-9]{0,18}$/.test(id)) {
    console.error(`--requeue takes an outbox message id (a positive number), got ${id}`);
    return 2;
  }
  const { data, error } = await db.rpc("requeue_outbox", { p_id: Number(id) });
  if (error) {
    console.error(`requeue_outbox failed at ${url}: ${error.message}`);
    return 2;
  }
  const messages: Record<string, string> = {
    requeued: `outbox message #${id} is due again (the next outbox-dispatch run delivers it)`,
    not_dead: `outbox message #${id} is not dead: nothing to do`,
    not_found: `there is no outbox message #${id}`,
  };
  console.log(messages[String(data)] ?? `requeue_outbox answered ${JSON.stringify(data)}`);
  return data === "requeued" ? 0 : 1;
}

function cleanupAgeMinutes(lastRanAt: string | null): number | undefined {
  if (lastRanAt === null) return undefined;
  return Math.floor((Date.now() - Date.parse(lastRanAt)) / 60_000);
}

function section(title: string, lines: string[]): void {
  console.log(`${title}: ${lines.length === 0 ? "none" : lines.length}`);
  for (const line of lines) console.log(`  ${line}`);
}

if (import.meta.main) {
  Deno.exit(await main());
}
