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

async function apply(sql: postgres.Sql, payload: string): Promise<string> {
  const [row] = await sql<{ outcome: string }[]>`
    select (public.apply_stripe_event(${payload}::text::jsonb)).outcome`;
  if (!row) throw new Error("no outcome");
  return row.outcome;
}

/** Delivers batches concurrently; an in-flight answer is retried later, as Stripe would. */
async function deliver(sql: postgres.Sql, batches: string[][]): Promise<void> {
  let retries: string[] = [];
  for (const batch of [...batches]) {
    const outcomes = await Promise.all(batch.map((payload) => apply(sql, payload)));
    outcomes.forEach((outcome, i) => {
      assert.notEqual(outcome, "failed");
      if (outcome === "in_flight") retries.push(batch[i] ?? "");
    });
  }
  while (retries.length > 0) {
    const again = retries;
    retries = [];
    for (const payload of again) {
      if ((await apply(sql, payload)) === "in_flight") retries.push(payload);
    }
  }
}

const delivery = fc.integer({ min: 0, max: SCENARIOS.length - 1 }).chain((scenario) => {
  const n = SCENARIOS[scenario]?.length ?? 1;
  return fc.record({
    scenario: fc.constant(scenario),
    extra: fc.array(fc.integer({ min: 0, max: n - 1 }), { maxLength: 2 * n }),
    // Sort keys give any permutation; batch sizes group deliveries that run concurrently.
    keys: fc.array(fc.double({ noNaN: true }), { minLength: 3 * n, maxLength: 3 * n }),
    batchSizes: fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 3 * n, maxLength: 3 * n }),
  });
});

Deno.test(
  "any duplication and interleaving of a session's events ends like the ordered delivery",
  INTEGRATION,
  async () => {
    const database = await createTestDatabase();
    const sql = postgres(database.url, { max: 4, onnotice: () => {} });
    try {
      await fc.assert(
        fc.asyncProperty(delivery, async ({ scenario, extra, keys, batchSizes }) => {
          const steps = SCENARIOS[scenario] ?? [];

          const refProduct = await createProduct(sql, 10, UNIT_AMOUNT);
          const ref = await createOrderInSql(sql, refProduct, { unitAmount: UNIT_AMOUNT });
          for (const payload of buildEvents(ref.orderId, steps)) {
            assert.notEqual(await apply(sql, payload), "failed");
          }
          const expected = await finalState(sql, ref.orderId, refProduct);

          const product = await createProduct(sql, 10, UNIT_AMOUNT);
          const order = await createOrderInSql(sql, product, { unitAmount: UNIT_AMOUNT });
          const events = buildEvents(order.orderId, steps);
          const indices = [...steps.keys(), ...extra]
            .map((index, i) => ({ index, key: keys[i] ?? 0 }))
            .sort((a, b) => a.key - b.key)
            .map((d) => events[d.index] ?? "");
          const batches: string[][] = [];
          for (let i = 0, b = 0; i < indices.length; b++) {
            const size = batchSizes[b] ?? 1;
            batches.push(indices.slice(i, i + size));
            i += size;
          }
          await deliver(sql, batches);

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
