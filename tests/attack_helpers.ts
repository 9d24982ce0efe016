/** Shared by the tests/attack_*_test.ts files: what "nothing written" means, and the error shape. */
import assert from "node:assert/strict";
import type { TestStack } from "./harness.ts";
import { emulator } from "./checkout_helpers.ts";

/** Rows in every table a function writes to, and the Stripe objects the emulator made. */
export interface Footprint {
  orders: number;
  order_items: number;
  idempotency_keys: number;
  stripe_idempotency_keys: number;
  stripe_customers: number;
  refunds: number;
  stripe_webhook_events: number;
  outbox: number;
  reconcile_runs: number;
  outbox_attempts: number;
  stripe_objects: number;
}

/**
 * The settled footprint: Stripe events an earlier request caused (a new Customer's, say)
 * reach the webhook asynchronously, so deliveries are waited for before counting.
 */
export async function footprint(stack: TestStack): Promise<Footprint> {
  await emulator(stack).waitForDeliveries();
  const [row] = await stack.sql<Omit<Footprint, "stripe_objects">[]>`
    select
      (select count(*)::int from public.orders) as orders,
      (select count(*)::int from public.order_items) as order_items,
      (select count(*)::int from public.idempotency_keys) as idempotency_keys,
      (select count(*)::int from public.stripe_idempotency_keys) as stripe_idempotency_keys,
      (select count(*)::int from public.stripe_customers) as stripe_customers,
      (select count(*)::int from public.refunds) as refunds,
      (select count(*)::int from public.stripe_webhook_events) as stripe_webhook_events,
      (select count(*)::int from public.outbox) as outbox,
      (select count(*)::int from public.stripe_reconcile_state where last_run_at is not null)
        as reconcile_runs,
      (select coalesce(sum(attempts), 0)::int from public.outbox) as outbox_attempts`;
  if (!row) throw new Error("no row");
  const created = (await emulator(stack).counters()).created;
  const stripeObjects = Object.values(created).reduce((sum, n) => sum + n, 0);
  return { ...row, stripe_objects: stripeObjects };
}

/** Statuses of requests refused before anything is claimed: these must write nothing. */
export const REFUSED_BEFORE_CLAIM = new Set([400, 401, 405, 413, 415]);

/**
 * Every answer of a public function: below 500, and every error in the documented shape
 * `{"error": {"code", "message", "details"?}}`.
 */
export function assertAnswerShape(label: string, status: number, text: string, method = "POST") {
  assert.ok(status < 500, `${label}: answered ${status}: ${text.slice(0, 300)}`);
  if (status < 400 || method === "HEAD") return;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    assert.fail(`${label}: ${status} with a body that is not JSON: ${text.slice(0, 300)}`);
  }
  const error = (body as { error?: Record<string, unknown> })?.error;
  assert.ok(error && typeof error === "object", `${label}: no "error" object: ${text}`);
  assert.equal(typeof error.code, "string", `${label}: error.code: ${text}`);
  assert.equal(typeof error.message, "string", `${label}: error.message: ${text}`);
  const extra = Object.keys(error).filter((k) => !["code", "message", "details"].includes(k));
  assert.deepEqual(extra, [], `${label}: unexpected error fields: ${text}`);
  assert.deepEqual(Object.keys(body as object), ["error"], `${label}: fields beside "error"`);
}
