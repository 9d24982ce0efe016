/**
 * Property: however Stripe duplicates and interleaves (sequentially or concurrently) the
 * payment, refund and dispute events of one order, the order ends where their ordered
 * delivery leaves it: same status, refunds rows, refundable amount, dispute record,
 * outbox messages and event statuses. Drives the SQL apply function directly (the
 * endpoint adds only verification).
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import { chargeObject, createOrderInSql, createProduct, sessionObject } from "./webhook_helpers.ts";
import {
  applyEvent,
  deliverBatches,
  deliveryArbitrary,
  interleave,
} from "./webhook_property_helpers.ts";
import {
  disputeObject,
  disputeState,
  refundableAmount,
  refundObject,
  refundRows,
  type RefundStatus,
} from "./refund_helpers.ts";

interface RefundFact {
  label: string;
  amount: number;
  status: RefundStatus;
  /** Made in the Dashboard: no metadata, found by payment intent only. */
  dashboard?: boolean;
}

type Step =
  | { kind: "paid" }
  | { kind: "unpaid" }
  | { kind: "async_succeeded" }
  | {
    kind: "refund";
    type: "refund.created" | "refund.updated" | "refund.failed" | "charge.refund.updated";
    refund: RefundFact;
  }
  | { kind: "charge"; refunded: number; list?: RefundFact[] }
  | { kind: "dispute"; type: "charge.dispute.created" | "charge.dispute.closed"; status: string };

const TOTAL = 1500;
const A = (amount: number, status: RefundStatus, dashboard = false): RefundFact => ({
  label: "a",
  amount,
  status,
  dashboard,
});
const B = (amount: number, status: RefundStatus, dashboard = false): RefundFact => ({
  label: "b",
  amount,
  status,
  dashboard,
});

/** Event sets one real order can produce, in the order Stripe creates them. */
const SCENARIOS: Step[][] = [
  // Two partial refunds adding up to the total, one from the API, one from the Dashboard.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(500, "succeeded") },
    { kind: "charge", refunded: 500, list: [A(500, "succeeded")] },
    { kind: "refund", type: "refund.created", refund: B(1000, "succeeded", true) },
    { kind: "charge", refunded: 1500, list: [B(1000, "succeeded", true), A(500, "succeeded")] },
  ],
  // A full refund that fails after succeeding.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(TOTAL, "succeeded") },
    { kind: "charge", refunded: TOTAL, list: [A(TOTAL, "succeeded")] },
    { kind: "refund", type: "refund.failed", refund: A(TOTAL, "failed") },
    { kind: "refund", type: "charge.refund.updated", refund: A(TOTAL, "failed") },
    { kind: "refund", type: "refund.updated", refund: A(TOTAL, "failed") },
  ],
  // A pending refund that succeeds.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(TOTAL, "pending") },
    { kind: "refund", type: "refund.updated", refund: A(TOTAL, "succeeded") },
    { kind: "charge", refunded: TOTAL, list: [A(TOTAL, "succeeded")] },
  ],
  // A pending Dashboard refund that fails, then a partial one that succeeds.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(TOTAL, "pending", true) },
    { kind: "refund", type: "refund.failed", refund: A(TOTAL, "failed", true) },
    { kind: "refund", type: "refund.created", refund: B(600, "succeeded", true) },
    { kind: "charge", refunded: 600, list: [B(600, "succeeded", true), A(TOTAL, "failed", true)] },
  ],
  // A dispute lost.
  [
    { kind: "paid" },
    { kind: "dispute", type: "charge.dispute.created", status: "needs_response" },
    { kind: "dispute", type: "charge.dispute.closed", status: "lost" },
  ],
  // A partial Dashboard refund, then a dispute won.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(500, "succeeded", true) },
    { kind: "dispute", type: "charge.dispute.created", status: "needs_response" },
    { kind: "dispute", type: "charge.dispute.closed", status: "won" },
  ],
  // A delayed payment, then a full refund seen only through the charge's total.
  [
    { kind: "unpaid" },
    { kind: "async_succeeded" },
    { kind: "refund", type: "refund.created", refund: A(TOTAL, "succeeded") },
    { kind: "charge", refunded: TOTAL },
  ],
  // A partial refund fails after succeeding; the full amount is refunded again.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(500, "succeeded") },
    { kind: "refund", type: "refund.failed", refund: A(500, "failed") },
    { kind: "refund", type: "refund.created", refund: B(TOTAL, "succeeded") },
  ],
  // Running totals only (an API version whose charge events carry no refund list).
  [
    { kind: "paid" },
    { kind: "charge", refunded: 500 },
    { kind: "charge", refunded: TOTAL },
  ],
  // Refunded in full, then disputed and lost.
  [
    { kind: "paid" },
    { kind: "refund", type: "refund.created", refund: A(TOTAL, "succeeded", true) },
    { kind: "dispute", type: "charge.dispute.created", status: "needs_response" },
    { kind: "dispute", type: "charge.dispute.closed", status: "lost" },
  ],
];

function buildEvents(orderId: string, steps: Step[]): { events: string[]; suffix: string } {
  const suffix = crypto.randomUUID().replaceAll("-", "");
  const sessionId = `cs_rprop_${suffix}`;
  const paymentIntent = `pi_rprop_${suffix}`;
  const created = Math.floor(Date.now() / 1000);
  const refund = (fact: RefundFact) =>
    refundObject(
      `re_${fact.label}_${suffix}`,
      paymentIntent,
      fact.amount,
      fact.status,
      fact.dashboard ? {} : { orderId },
    );
  const session = (fields: Record<string, unknown>) =>
    sessionObject(orderId, sessionId, {
      amount_total: TOTAL,
      status: "complete",
      payment_intent: paymentIntent,
      ...fields,
    });
  const events = steps.map((step, i) => {
    const [type, object] = ((): [string, Record<string, unknown>] => {
      switch (step.kind) {
        case "paid":
          return ["checkout.session.completed", session({ payment_status: "paid" })];
        case "unpaid":
          return ["checkout.session.completed", session({ payment_status: "unpaid" })];
        case "async_succeeded":
          return ["checkout.session.async_payment_succeeded", session({ payment_status: "paid" })];
        case "refund":
          return [step.type, refund(step.refund)];
        case "charge":
          return ["charge.refunded", {
            ...chargeObject(orderId, paymentIntent, TOTAL, step.refunded),
            ...(step.list ? { refunds: { object: "list", data: step.list.map(refund) } } : {}),
          }];
        case "dispute":
          return [
            step.type,
            disputeObject(`dp_${suffix}`, paymentIntent, TOTAL, step.status as "lost"),
          ];
      }
    })();
    return JSON.stringify({
      id: `evt_rprop_${suffix}_${String(i).padStart(2, "0")}`,
      object: "event",
      type,
      livemode: false,
      created: created + i,
      data: { object },
    });
  });
  return { events, suffix };
}

async function finalState(sql: postgres.Sql, orderId: string, suffix: string) {
  const [order] = await sql<{ status: string; paid: boolean; needs_review: boolean }[]>`
    select status, paid_at is not null as paid, needs_review from public.orders
    where id = ${orderId}`;
  const outbox = await sql<{ topic: string }[]>`
    select topic from public.outbox where order_id = ${orderId} order by topic`;
  const events = await sql<{ status: string; order_id: string | null }[]>`
    select status, order_id from public.stripe_webhook_events
    where stripe_event_id like ${`evt_rprop_${suffix}_%`} order by stripe_event_id`;
  const unsuffix = (value: string | null) => value?.replace(`_${suffix}`, "") ?? null;
  const dispute = await disputeState(sql, orderId);
  return {
    order,
    outbox: outbox.map((r) => r.topic),
    events: events.map((e) => [e.status, e.order_id === orderId]),
    refunds: (await refundRows(sql, orderId)).map((r) => ({
      ...r,
      stripe_refund_id: unsuffix(r.stripe_refund_id),
    })),
    refundable: await refundableAmount(sql, orderId),
    dispute: { ...dispute, dispute_id: unsuffix(dispute.dispute_id) },
  };
}

const delivery = deliveryArbitrary(SCENARIOS.map((steps) => steps.length));

Deno.test(
  "any duplication and interleaving of payment, refund and dispute events ends like the ordered delivery",
  INTEGRATION,
  async () => {
    const database = await createTestDatabase();
    const sql = postgres(database.url, { max: 4, onnotice: () => {} });
    try {
      const product = await createProduct(sql, 100_000, TOTAL);
      await fc.assert(
        fc.asyncProperty(delivery, async (chosen) => {
          const steps = SCENARIOS[chosen.scenario] ?? [];

          const ref = await createOrderInSql(sql, product, { unitAmount: TOTAL });
          const ordered = buildEvents(ref.orderId, steps);
          for (const payload of ordered.events) {
            assert.notEqual(await applyEvent(sql, payload), "failed");
          }
          const expected = await finalState(sql, ref.orderId, ordered.suffix);
          assert.ok(expected.events.every(([s]) => s === "processed"), JSON.stringify(expected));

          const order = await createOrderInSql(sql, product, { unitAmount: TOTAL });
          const shuffled = buildEvents(order.orderId, steps);
          await deliverBatches(sql, interleave(shuffled.events, chosen));

          assert.deepEqual(await finalState(sql, order.orderId, shuffled.suffix), expected);
        }),
        { numRuns: 150 },
      );
    } finally {
      await sql.end({ timeout: 5 });
      await database.drop();
    }
  },
);
