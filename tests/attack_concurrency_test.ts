/**
 * Duplication and failure at volume on the real stack: many checkout keys sent twice at once
 * while Stripe fails in every way the emulator can and the function process is killed
 * mid-burst, then every key retried until it settles; refunds raced by many keys and their
 * duplicates with Stripe failing. Afterwards: one order and at most one session per key, stock
 * that adds up, replays byte for byte, and never more refunded than paid.
 */
import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  answerOf,
  BEANS,
  callCheckout,
  type CheckoutAnswer,
  DRIPPER,
  emulator,
  FILTERS,
  guestBody,
  INTEGRATION,
  KETTLE,
  sessionsCreated,
  sleep,
  stockOf,
  waitUntil,
} from "./checkout_helpers.ts";
import type { FaultInput } from "../local/stripe-emulator/control_client.ts";
import { orderState } from "./webhook_helpers.ts";

const SESSIONS = "POST /v1/checkout/sessions";
const REFUNDS = "POST /v1/refunds";
const SEED = Number(Deno.env.get("ATTACK_SEED") ?? Date.now() % 2 ** 31);

/** Every way a Stripe call can fail, each `n` times. */
function faultMix(route: string): FaultInput[] {
  const mix: [FaultInput, number][] = [
    [{ route, mode: "before", status: 500 }, 5],
    [{ route, mode: "before", status: 503 }, 3],
    [{ route, mode: "before", status: 429 }, 3],
    [{ route, mode: "before", status: 409 }, 2],
    [{ route, mode: "after", status: 502 }, 5],
    [{ route, mode: "after", status: 500 }, 3],
    [{ route, mode: "saved_500" }, 4],
    [{ route, mode: "drop_after" }, 5],
    // Longer than the client's timeout: Stripe finishes after the caller gave up.
    [{ route, mode: "delay", phase: "after", delay_ms: 2_000 }, 3],
    [{ route, mode: "delay", phase: "before", delay_ms: 300 }, 4],
    [{ route, mode: "before", status: 400 }, 2],
  ];
  const faults = mix.flatMap(([fault, n]) => Array.from({ length: n }, () => fault));
  // A seeded shuffle, so a failing run can be replayed with ATTACK_SEED.
  const order = fc.sample(
    fc.shuffledSubarray(faults.map((_, i) => i), {
      minLength: faults.length,
    }),
    { seed: SEED, numRuns: 1 },
  )[0] ?? [];
  return order.map((i) => faults[i] as FaultInput);
}

const RETRYABLE = (a: CheckoutAnswer) =>
  a.status >= 500 && a.status !== 502 ||
  (a.status === 409 && (a.json.error as { code?: string })?.code === "idempotency_key_in_use");

/** Resends each key until its answer is final; returns the final answers. */
async function settle(
  keys: string[],
  send: (key: string) => Promise<CheckoutAnswer>,
  deadlineMs: number,
): Promise<Map<string, CheckoutAnswer>> {
  const settled = new Map<string, CheckoutAnswer>();
  const deadline = Date.now() + deadlineMs;
  while (settled.size < keys.length) {
    const open = keys.filter((k) => !settled.has(k));
    if (Date.now() > deadline) {
      throw new Error(`${open.length} keys never settled, e.g. ${open.slice(0, 3).join(", ")}`);
    }
    for (let i = 0; i < open.length; i += 10) {
      await Promise.all(
        open.slice(i, i + 10).map(async (key) => {
          const answer = await send(key);
          if (!RETRYABLE(answer)) settled.set(key, answer);
        }),
      );
    }
    if (settled.size < keys.length) await sleep(250);
  }
  return settled;
}

const STOCKED = [[KETTLE, 10], [DRIPPER, 3], [BEANS, 100]] as const;

Deno.test(
  "100 checkout keys sent twice at once, Stripe failing every way, a crash: each settles once",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({
      functionEnv: {
        STRIPE_MAX_NETWORK_RETRIES: "0",
        STRIPE_TIMEOUT_MS: "1500",
        IDEMPOTENCY_LEASE_SECONDS: "4",
      },
    });
    const control = emulator(stack);
    await control.setWebhooks({ auto: false });
    for (const fault of faultMix(SESSIONS)) await control.addFault({ ...fault, times: 1 });

    const carts = fc.sample(
      fc.uniqueArray(
        fc.record({
          product_id: fc.constantFrom(KETTLE, DRIPPER, FILTERS, BEANS),
          quantity: fc.integer({ min: 1, max: 3 }),
        }),
        { minLength: 1, maxLength: 3, selector: (i) => i.product_id },
      ),
      { seed: SEED, numRuns: 100 },
    );
    const bodies = new Map<string, Record<string, unknown>>(
      carts.map((items) => [crypto.randomUUID(), guestBody({ items })]),
    );
    const keys = [...bodies.keys()];
    const send = (key: string) =>
      callCheckout(stack, "guest-checkout", { key, body: bodies.get(key) });

    // The burst: every key twice, in one Promise.all, and the process killed in the middle.
    const burst = Promise.all(keys.flatMap((key) => [send(key), send(key)]));
    await sleep(400);
    await stack.killFunction("guest-checkout");
    await stack.startFunction("guest-checkout");
    const first = await burst;
    for (const answer of first) {
      assert.ok(answer.status !== 500 || answer.json.error, `a bare 500: ${answer.text}`);
    }

    const final = await settle(keys, send, 40_000);
    await control.clearFaults();

    // Each final answer replays byte for byte.
    for (const [key, answer] of final) {
      const replay = await send(key);
      assert.equal(replay.text, answer.text, `${key}: the replay differs`);
      assert.equal(replay.headers.get("idempotent-replayed"), "true", `${key}: not a replay`);
    }

    const orders = await stack.sql<
      { idempotency_key: string; id: string; checkout_session_id: string | null; status: string }[]
    >`select idempotency_key, id, checkout_session_id, status from public.orders
      where scope = 'guest'`;
    const byKey = new Map(orders.map((o) => [o.idempotency_key, o]));
    assert.equal(byKey.size, orders.length, "one order per key");
    let created = 0;
    for (const [key, answer] of final) {
      const order = byKey.get(key);
      if (answer.status === 201 || answer.status === 200) {
        created += 1;
        assert.ok(order, `${key}: answered ${answer.status} without an order`);
        assert.equal(answer.json.order_id, order.id, key);
        assert.equal(answer.json.checkout_session_id, order.checkout_session_id, key);
        assert.equal(order.status, "pending", key);
      } else {
        const code = (answer.json.error as { code?: string })?.code;
        assert.ok(
          ["insufficient_stock", "stripe_rejected"].includes(code ?? ""),
          `${key}: settled on ${answer.status} ${answer.text}`,
        );
        if (code === "stripe_rejected") assert.equal(order?.status, "failed", key);
      }
    }
    const withSession = orders.filter((o) => o.checkout_session_id !== null);
    assert.equal(withSession.length, created, "a session exactly for each order answered 2xx");
    assert.equal(
      new Set(withSession.map((o) => o.checkout_session_id)).size,
      withSession.length,
      "no session shared by two orders",
    );
    // Every session Stripe made, with its order: expire them all (the test is over) and read
    // the expiry events; at most one per order. (An `after` fault on a replay once looked like
    // a replayed 5xx: the order was re-keyed and Stripe made a second session; the emulator no
    // longer marks a lost answer as a replay.) A session outlives its order only when a retry
    // after an unknown outcome met an injected 400, which real Stripe would answer with the
    // saved result: that order failed and its stock went back.
    await control.advanceClock(2 * 86_400);
    const sessions = (await control.events()).data
      .filter((e) => e.type === "checkout.session.expired")
      .map((e) => e.data.object as unknown as { id: string; metadata: { order_id?: string } });
    assert.equal(sessions.length, await sessionsCreated(stack), "every session expired");
    const sessionsPerOrder = new Map<string, string[]>();
    for (const session of sessions) {
      const orderId = session.metadata.order_id ?? "(none)";
      sessionsPerOrder.set(orderId, [...(sessionsPerOrder.get(orderId) ?? []), session.id]);
    }
    const byId = new Map(orders.map((o) => [o.id, o]));
    for (const [orderId, ids] of sessionsPerOrder) {
      assert.equal(ids.length, 1, `order ${orderId}: sessions ${ids.join(", ")}`);
      const order = byId.get(orderId);
      assert.ok(order, `session ${ids[0]} of no order`);
      if (order.checkout_session_id === null) assert.equal(order.status, "failed", orderId);
      else assert.equal(order.checkout_session_id, ids[0], orderId);
    }

    for (const [product, initial] of STOCKED) {
      const [row] = await stack.sql<{ reserved: number }[]>`
        select coalesce(sum(oi.quantity), 0)::int as reserved
        from public.order_items oi join public.orders o on o.id = oi.order_id
        where oi.product_id = ${product} and o.stock_released_at is null`;
      const stock = await stockOf(stack, product);
      assert.ok(stock !== null && stock >= 0, `${product}: stock ${stock}`);
      assert.equal(initial - stock, row?.reserved, `${product}: stock taken = reserved`);
    }
    const [open] = await stack.sql<{ n: number }[]>`
      select count(*)::int as n from public.idempotency_keys where status <> 'completed'`;
    assert.equal(open?.n, 0, "every key ended with a stored answer");
  },
);

/** A paid order made the real way, delivering its webhook events ourselves. */
async function paidOrder(stack: TestStack, quantity: number): Promise<string> {
  const answer = await callCheckout(stack, "guest-checkout", {
    body: guestBody({ items: [{ product_id: FILTERS, quantity }] }),
  });
  assert.equal(answer.status, 201, answer.text);
  const orderId = String(answer.json.order_id);
  await emulator(stack).pay(String(answer.json.checkout_session_id));
  await waitUntil(
    "the order is paid",
    async () => (await orderState(stack.sql, orderId)).status === "paid",
  );
  return orderId;
}

Deno.test(
  "refunds raced by many keys and duplicates, Stripe failing: never more than paid",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({
      functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0", STRIPE_TIMEOUT_MS: "1500" },
    });
    const control = emulator(stack);
    const orders = await Promise.all([1, 2, 3].map((q) => paidOrder(stack, q)));
    await control.waitForDeliveries();
    const [paidRows] = [
      await stack.sql<{ id: string; amount_total: number }[]>`
        select id, amount_total from public.orders where id = any(${orders})`,
    ];
    const paid = new Map(paidRows.map((r) => [r.id, r.amount_total]));
    for (const fault of faultMix(REFUNDS)) await control.addFault({ ...fault, times: 1 });

    // 10 keys per order, each for a third of the amount or everything left, each sent twice.
    const requests = new Map<string, Record<string, unknown>>();
    for (const orderId of orders) {
      const total = paid.get(orderId) ?? 0;
      for (let i = 0; i < 10; i++) {
        requests.set(
          crypto.randomUUID(),
          i % 3 === 0 ? { order_id: orderId } : { order_id: orderId, amount: Math.ceil(total / 3) },
        );
      }
    }
    const send = (key: string) =>
      fetch(`${stack.functionsUrl}/refund-order`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "idempotency-key": key,
          apikey: stack.secretKey,
        },
        body: JSON.stringify(requests.get(key)),
      }).then(answerOf);
    const keys = [...requests.keys()];
    const burst = await Promise.all(keys.flatMap((key) => [send(key), send(key)]));
    for (const answer of burst) assert.ok(answer.status !== 500, `a 500: ${answer.text}`);
    const final = await settle(keys, send, 40_000);
    await control.clearFaults();
    await control.waitForDeliveries();

    // What Stripe holds: the refunds it made, per payment.
    const events = (await control.events()).data.filter((e) => e.type === "refund.created");
    const stripeRefunded = new Map<string, number>();
    for (const event of events) {
      const refund = event.data.object as unknown as {
        amount: number;
        metadata?: { order_id?: string };
      };
      const orderId = refund.metadata?.order_id ?? "";
      stripeRefunded.set(orderId, (stripeRefunded.get(orderId) ?? 0) + refund.amount);
    }
    for (const orderId of orders) {
      const total = paid.get(orderId) ?? 0;
      const atStripe = stripeRefunded.get(orderId) ?? 0;
      assert.ok(atStripe <= total, `${orderId}: Stripe refunded ${atStripe} of ${total}`);
      const [row] = await stack.sql<{ sum: number; refunds: number }[]>`
        select coalesce(sum(amount) filter (where status in ('pending', 'succeeded')), 0)::int as sum,
          count(*) filter (where stripe_refund_id is not null)::int as refunds
        from public.refunds where order_id = ${orderId}`;
      assert.equal(row?.sum, atStripe, `${orderId}: the database agrees with Stripe`);
      const answered = [...final.entries()].filter(([k, a]) =>
        requests.get(k)?.order_id === orderId && (a.status === 201 || a.status === 200)
      );
      const answeredSum = answered.reduce((s, [, a]) => s + Number(a.json.amount), 0);
      assert.equal(answeredSum, atStripe, `${orderId}: each 201 is one Stripe refund`);
      assert.equal(new Set(answered.map(([, a]) => a.json.refund_id)).size, answered.length);
    }
    for (const [key, answer] of final) {
      const code = (answer.json.error as { code?: string } | undefined)?.code;
      assert.ok(
        answer.status === 201 || answer.status === 200 ||
          ["refund_exceeds_payment", "stripe_rejected"].includes(code ?? ""),
        `${key}: settled on ${answer.status} ${answer.text}`,
      );
    }
  },
);
