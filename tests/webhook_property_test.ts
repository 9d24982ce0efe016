/**
 * Property: however Stripe duplicates and interleaves (sequentially or concurrently) the
 * events of one Checkout Session, the order ends where the ordered single delivery
 * leaves it — same status, stock, review flag, outbox messages and event statuses.
 * Drives the SQL apply function directly (the endpoint adds only verification).
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import {
  applyEvent,
  deliverBatches,
  deliveryArbitrary,
  interleave,
} from "./webhook_property_helpers.ts";
import { INTEGRATION, stockOfProduct } from "./checkout_helpers.ts";
import { chargeObject, createOrderInSql, createProduct, sessionObject } from "./webhook_helpers.ts";

type Step =
  | { kind: "completed"; paid: boolean }
  | { kind: "async_succeeded" }
  | { kind: "async_failed" }
  | { kind: "expired" }
  | { kind: "refund"; part: "partial" | "full" };

/** Event sets one real session can produce, in the order Stripe creates them. */
const SCENARIOS: Step[][] = [
  [{ kind: "completed", paid: true }],
  [{ kind: "completed", paid: true }, { kind: "refund", part: "full" }],
  [{ kind: "completed", paid: true }, { kind: "refund", part: "partial" }, {
    kind: "refund",
    part: "full",
  }],
  [{ kind: "completed", paid: false }, { kind: "async_succeeded" }],
  [{ kind: "completed", paid: false }, { kind: "async_succeeded" }, {
    kind: "refund",
    part: "full",
  }],
  [{ kind: "completed", paid: false }, { kind: "async_failed" }],
  [{ kind: "expired" }],
];

const UNIT_AMOUNT = 1500;

function buildEvents(orderId: string, steps: Step[]): string[] {
  const suffix = crypto.randomUUID().replaceAll("-", "");
  const sessionId = `cs_prop_${suffix}`;
  const paymentIntent = `pi_prop_${suffix}`;
  const created = Math.floor(Date.now() / 1000);
  return steps.map((step, i) => {
    const session = (fields: Record<string, unknown>) =>
      sessionObject(orderId, sessionId, { amount_total: UNIT_AMOUNT, ...fields });
    const [type, object] = ((): [string, Record<string, unknown>] => {
      switch (step.kind) {
        case "completed":
          return [
            "checkout.session.completed",
            session({
              status: "complete",
              payment_status: step.paid ? "paid" : "unpaid",
              payment_intent: paymentIntent,
            }),
          ];
        case "async_succeeded":
          return [
            "checkout.session.async_payment_succeeded",
            session({
              status: "complete",
              payment_status: "paid",
              payment_intent: paymentIntent,
            }),
          ];
        case "async_failed":
          return [
            "checkout.session.async_payment_failed",
            session({
              status: "complete",
              payment_status: "unpaid",
              payment_intent: paymentIntent,
            }),
          ];
        case "expired":
          return [
            "checkout.session.expired",
            session({ status: "expired", payment_status: "unpaid" }),
          ];
        case "refund":
          return [
            "charge.refunded",
            chargeObject(
              orderId,
              paymentIntent,
              UNIT_AMOUNT,
              step.part === "full" ? UNIT_AMOUNT : 500,
            ),
          ];
      }
    })();
    return JSON.stringify({
      id: `evt_prop_${suffix}_${i}`,
      object: "event",
      type,
      livemode: false,
      created: created + i,
      data: { object },
    });
  });
}

interface Final {
  status: string;
  paid: boolean;
  stockReleased: boolean;
  needsReview: boolean;
  stock: number | null;
  outbox: string[];
  eventStatuses: string[];
}

async function finalState(sql: postgres.Sql, orderId: string, productId: string): Promise<Final> {
  const [order] = await sql<
    { status: string; paid: boolean; stock_released: boolean; needs_review: boolean }[]
  >`
    select status, paid_at is not null as paid, stock_released_at is not null as stock_released,
      needs_review from public.orders where id = ${orderId}`;
  if (!order) throw new Error("no order");
  const outbox = await sql<{ topic: string }[]>`
    select topic from public.outbox where order_id = ${orderId} order by topic`;
  const events = await sql<{ status: string }[]>`
    select status from public.stripe_webhook_events where order_id = ${orderId}
    order by stripe_event_id`;
  return {
    status: order.status,
    paid: order.paid,
    stockReleased: order.stock_released,
    needsReview: order.needs_review,
    stock: await stockOfProduct(sql, productId),
    outbox: outbox.map((r) => r.topic),
    eventStatuses: events.map((r) => r.status),
  };
}

const delivery = deliveryArbitrary(SCENARIOS.map((steps) => steps.length));

Deno.test(
  "any duplication and interleaving of a session's events ends like the ordered delivery",
  INTEGRATION,
  async () => {
    const database = await createTestDatabase();
    const sql = postgres(database.url, { max: 4, onnotice: () => {} });
    try {
      await fc.assert(
        fc.asyncProperty(delivery, async (chosen) => {
          const steps = SCENARIOS[chosen.scenario] ?? [];

          const refProduct = await createProduct(sql, 10, UNIT_AMOUNT);
          const ref = await createOrderInSql(sql, refProduct, { unitAmount: UNIT_AMOUNT });
          for (const payload of buildEvents(ref.orderId, steps)) {
            assert.notEqual(await applyEvent(sql, payload), "failed");
          }
          const expected = await finalState(sql, ref.orderId, refProduct);

          const product = await createProduct(sql, 10, UNIT_AMOUNT);
          const order = await createOrderInSql(sql, product, { unitAmount: UNIT_AMOUNT });
          await deliverBatches(sql, interleave(buildEvents(order.orderId, steps), chosen));

          assert.deepEqual(await finalState(sql, order.orderId, product), expected);
          assert.ok(
            expected.eventStatuses.every((s) => s === "processed"),
            JSON.stringify(expected),
          );
        }),
        { numRuns: 80 },
      );
    } finally {
      await sql.end({ timeout: 5 });
      await database.drop();
    }
  },
);
