/**
 * `deno task ops`: what an operator must look at — webhook events whose effect keeps
 * failing, refunds still waiting for their payment, orders flagged for review, and
 * outbox messages that gave up. Reads public.webhook_ops_report through the API with
 * the service_role key, so it works against the local stack and hosted Supabase alike.
 *
 *   SUPABASE_URL=… SUPABASE_SERVICE_ROLE_KEY=… deno task ops [--min-attempts=N] [--json]
 *
 * Locally both default: the gateway at http://127.0.0.1:54321 and a service_role key
 * minted with SUPABASE_JWT_SECRET (or the local-development secret).
 * Exit code: 0 nothing to do, 1 something needs attention, 2 the report failed.
 */
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import type { Database } from "../supabase/functions/_shared/database.types.ts";
import { DEFAULT_JWT_SECRET, mintServiceRoleKey } from "./jwt.ts";

interface Report {
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
}

function flag(name: string): string | undefined {
  const prefix = `--${name}=`;
  return Deno.args.find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

async function main(): Promise<number> {
  const url = Deno.env.get("SUPABASE_URL") || "http://127.0.0.1:54321";
  const key = Deno.env.get("SUPABASE_SERVICE_ROLE_KEY") ||
    await mintServiceRoleKey(Deno.env.get("SUPABASE_JWT_SECRET") || DEFAULT_JWT_SECRET);
  const minAttempts = Number(flag("min-attempts") ?? "2");
  if (!Number.isInteger(minAttempts) || minAttempts < 1) {
    console.error(`--min-attempts must be a whole number ≥ 1, got ${flag("min-attempts")}`);
    return 2;
  }
  const db = createClient<Database>(url, key, { auth: { persistSession: false } });
  const { data, error } = await db.rpc("webhook_ops_report", { p_min_attempts: minAttempts });
  if (error) {
    console.error(`webhook_ops_report failed at ${url}: ${error.message}`);
    return 2;
  }
  const report = data as unknown as Report;
  if (Deno.args.includes("--json")) {
    console.log(JSON.stringify(report, null, 2));
  } else {
    print(report, minAttempts);
  }
  const findings = report.failing_events.length + report.deferred_events.length +
    report.orders_needing_review.length + report.dead_outbox_messages.length;
  return findings === 0 ? 0 : 1;
}

function print(report: Report, minAttempts: number): void {
  section(
    `Webhook events failing (≥ ${minAttempts} attempts; Stripe keeps retrying for 3 days)`,
    report.failing_events.map((e) =>
      `${e.stripe_event_id}  ${e.type}  ${e.object_id ?? ""}  attempts=${e.attempts}  ` +
      `last=${e.updated_at}\n      ${e.last_error ?? ""}`
    ),
  );
  section(
    "Refunds waiting for their payment",
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
}

function section(title: string, lines: string[]): void {
  console.log(`${title}: ${lines.length === 0 ? "none" : lines.length}`);
  for (const line of lines) console.log(`  ${line}`);
}

if (import.meta.main) {
  Deno.exit(await main());
}
