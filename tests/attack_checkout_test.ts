/**
 * The checkout path attacked where tests/attack_input_test.ts and
 * tests/attack_concurrency_test.ts do not reach: headers a proxy passes through unchanged,
 * and races of duplicates, cancels and crashes. Whatever arrives, the answer is below 500
 * in the documented shape, and each key ends with one order.
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
  sleep,
  stockOf,
  waitUntil,
} from "./checkout_helpers.ts";
import type { FaultInput } from "../local/stripe-emulator/control_client.ts";
import { assertAnswerShape } from "./attack_helpers.ts";

Deno.test(
  "an x-forwarded-for hop that is no plain address never reaches Postgres as one",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({ functionEnv: { PENDING_CHECKOUTS_PER_IP: "20" } });
    // isIP accepts an IPv6 zone id ("%eth0"); Postgres's inet does not.
    for (const hop of ["fe80::1%eth0", "fe80::1%25eth0, 10.0.0.1", "::1%1"]) {
      const answer = await callCheckout(stack, "guest-checkout", {
        headers: { "x-forwarded-for": hop },
      });
      assertAnswerShape(`x-forwarded-for ${hop}`, answer.status, answer.text);
      assert.equal(answer.status, 201, `${hop}: ${answer.text}`);
    }
    const ips = await stack.sql<{ client_ip: string | null }[]>`
      select host(client_ip) as client_ip from public.orders`;
    assert.deepEqual(ips.map((r) => r.client_ip), [null, null, null], "counted as unknown");
  },
);

const SEED = Number(Deno.env.get("ATTACK_SEED") ?? Date.now() % 2 ** 31);

/** Every way a Stripe call can fail short of a 4xx, shuffled by the seed. */
function faultMix(route: string): FaultInput[] {
  const mix: [FaultInput, number][] = [
    [{ route, mode: "before", status: 500 }, 3],
    [{ route, mode: "before", status: 429 }, 2],
    [{ route, mode: "before", status: 409 }, 2],
    [{ route, mode: "after", status: 502 }, 3],
    [{ route, mode: "saved_500" }, 3],
    [{ route, mode: "drop_after" }, 3],
    // Longer than the function's Stripe timeout: Stripe finishes after it gave up.
    [{ route, mode: "delay", phase: "after", delay_ms: 2_000 }, 2],
    [{ route, mode: "delay", phase: "after", delay_ms: 700 }, 4],
  ];
  const faults = mix.flatMap(([fault, n]) => Array.from({ length: n }, () => fault));
  const order = fc.sample(
    fc.shuffledSubarray(faults.map((_, i) => i), { minLength: faults.length }),
    { seed: SEED, numRuns: 1 },
  )[0] ?? [];
  return order.map((i) => faults[i] as FaultInput);
}

const codeOf = (answer: CheckoutAnswer) => (answer.json.error as { code?: string })?.code;

/** 5xx (a crash, Stripe down, a function booting) and 409 in-use: send it again. */
const retryable = (answer: CheckoutAnswer) =>
  (answer.status >= 500 && answer.status !== 502) ||
  (answer.status === 409 && codeOf(answer) === "idempotency_key_in_use");

/** SIGKILLs guest-checkout every 2-3 s (the supervisor boots it again) until stopped. */
function killer(stack: TestStack): { stop(): Promise<number> } {
  let killing = true;
  const kills = (async () => {
    let n = 0;
    for (let i = 0; killing; i++) {
      // Apart by more than the supervisor's 2 s, so it restarts at once instead of backing off.
      await sleep(2_200 + (i % 3) * 300);
      const pid = stack.functionProcess("guest-checkout").pid;
      if (!killing || !pid) continue;
      try {
        Deno.kill(pid, "SIGKILL");
        n++;
      } catch {
        // already gone
      }
    }
    return n;
  })();
  return {
    stop: () => {
      killing = false;
      return kills;
    },
  };
}

async function cancelUntilSettled(stack: TestStack, key: string, orderId: string) {
  let last = "";
  for (const deadline = Date.now() + 60_000; Date.now() < deadline;) {
    const answer = await answerOf(
      await fetch(`${stack.functionsUrl}/guest-checkout/cancel`, {
        method: "POST",
        headers: { "content-type": "application/json", "idempotency-key": key },
        body: JSON.stringify({ order_id: orderId }),
      }),
    );
    last = `${answer.status} ${answer.text}`;
    if (answer.status < 500) assertAnswerShape(`cancel ${key}`, answer.status, answer.text);
    else assert.ok(answer.json.error || answer.json.code, `a bare ${answer.status}: ${last}`);
    if (answer.status === 200 || codeOf(answer) === "order_paid") return answer;
    assert.ok(retryable(answer), `cancel of ${key}: ${last}`);
    await sleep(200);
  }
  throw new Error(`the cancel of ${key} never settled: ${last}`);
}

Deno.test(
  "duplicates with other bodies, cancels racing payments, Stripe failing, the process killed",
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
    for (const fault of faultMix("POST /v1/checkout/sessions")) {
      await control.addFault({ ...fault, times: 1 });
    }
    const initial = new Map<string, number>();
    for (const product of [KETTLE, DRIPPER, BEANS]) {
      initial.set(product, (await stockOf(stack, product)) ?? 0);
    }

    // Each key sent three times at once; every third key once with another quantity, sent
    // first or last.
    const products = [KETTLE, DRIPPER, FILTERS, BEANS];
    const keys: string[] = Array.from({ length: 40 }, () => crypto.randomUUID());
    const bodies = new Map(keys.map((key, i) => {
      const product_id = products[i % products.length];
      return [key, {
        A: guestBody({ items: [{ product_id, quantity: 1 }] }),
        B: guestBody({ items: [{ product_id, quantity: 2 }] }),
      }];
    }));
    const send = (key: string, body: "A" | "B") =>
      callCheckout(stack, "guest-checkout", { key, body: bodies.get(key)?.[body] });

    const kills = killer(stack);
    const burst = await Promise.all(
      keys.flatMap((key, i) =>
        i % 6 === 0
          ? [send(key, "B"), send(key, "A"), send(key, "A")]
          : [send(key, "A"), send(key, "A"), send(key, i % 3 ? "A" : "B")]
      ),
    );
    for (const answer of burst) {
      if (answer.status < 500) assertAnswerShape("burst", answer.status, answer.text);
      else assert.ok(answer.json.error || answer.json.code, `a bare 5xx: ${answer.text}`);
    }

    // Each key settles on the body that claimed it first; the other one is 422.
    const final = new Map<string, { answer: CheckoutAnswer; body: "A" | "B" }>();
    for (const deadline = Date.now() + 60_000; final.size < keys.length;) {
      assert.ok(Date.now() < deadline, `${keys.length - final.size} keys never settled`);
      for (const key of keys.filter((k) => !final.has(k))) {
        let body: "A" | "B" = "A";
        let answer = await send(key, body);
        if (codeOf(answer) === "idempotency_key_reused") answer = await send(key, body = "B");
        if (!retryable(answer)) final.set(key, { answer, body });
      }
      if (final.size < keys.length) await sleep(200);
    }

    // Half the checkouts cancelled while the expiry fails every way and a third are paid.
    await control.clearFaults();
    for (const fault of faultMix("POST /v1/checkout/sessions/:id/expire")) {
      await control.addFault({ ...fault, times: 1 });
    }
    const created = [...final].filter(([, { answer }]) => answer.status < 300);
    await Promise.all(
      created.filter((_, i) => i % 2 === 0).map(([key, { answer }], i) =>
        Promise.all([
          cancelUntilSettled(stack, key, String(answer.json.order_id)),
          i % 3 === 0 ? control.pay(String(answer.json.checkout_session_id)).catch(() => {}) : 0,
        ])
      ),
    );
    const killed = await kills.stop();
    assert.ok(killed >= 1, "the process was killed");
    await control.clearFaults();
    await control.waitForDeliveries();
    await waitUntil("the function is up", async () => {
      const health = await (await fetch(`${stack.apiUrl}/health`)).json();
      return health.functions?.["guest-checkout"] === "up";
    });

    // Every final answer replays byte for byte.
    for (const [key, { answer, body }] of final) {
      const replay = await send(key, body);
      assert.equal(replay.text, answer.text, `${key}: the replay differs`);
      assert.equal(replay.headers.get("idempotent-replayed"), "true", key);
      assert.ok(
        answer.status === 201 || answer.status === 200 || codeOf(answer) === "insufficient_stock",
        `${key} settled on ${answer.status} ${answer.text}`,
      );
    }

    const orders = await stack.sql<
      {
        id: string;
        idempotency_key: string;
        status: string;
        checkout_session_id: string | null;
        released: boolean;
        needs_review: boolean;
        quantity: number;
      }[]
    >`select o.id, o.idempotency_key, o.status, o.checkout_session_id,
        o.stock_released_at is not null as released, o.needs_review,
        (select sum(i.quantity)::int from public.order_items i where i.order_id = o.id) as quantity
      from public.orders o`;
    const byKey = new Map(orders.map((o) => [o.idempotency_key, o]));
    assert.equal(byKey.size, orders.length, "one order per key");
    for (const [key, { answer, body }] of final) {
      const order = byKey.get(key);
      if (answer.status !== 201 && answer.status !== 200) continue;
      assert.ok(order, `${key}: 201 without an order`);
      assert.equal(order.id, answer.json.order_id, key);
      assert.equal(order.quantity, body === "A" ? 1 : 2, `${key}: the order is the winner's body`);
    }
    for (const order of orders) {
      assert.ok(!(order.status === "paid" && order.released), `${order.id}: paid and released`);
      assert.ok(!order.needs_review, `${order.id}: a payment after a cancel`);
    }
    for (const [product, stock] of initial) {
      const [row] = await stack.sql<{ reserved: number }[]>`
        select coalesce(sum(oi.quantity), 0)::int as reserved
        from public.order_items oi join public.orders o on o.id = oi.order_id
        where oi.product_id = ${product} and o.stock_released_at is null`;
      assert.equal(stock - ((await stockOf(stack, product)) ?? 0), row?.reserved, product);
    }
    const [open] = await stack.sql<{ n: number }[]>`
      select count(*)::int as n from public.idempotency_keys where status <> 'completed'`;
    assert.equal(open?.n, 0, "every key ended with a stored answer");

    // The sessions still open at Stripe: one per pending order, its own, and no other.
    const { expired } = await control.advanceClock(2 * 86_400);
    const stillOpen = new Set(expired);
    const sessions = (await control.events()).data
      .filter((e) => e.type === "checkout.session.expired")
      .map((e) => e.data.object as unknown as { id: string; metadata: { order_id?: string } })
      .filter((s) => stillOpen.has(s.id));
    const byId = new Map(orders.map((o) => [o.id, o]));
    assert.equal(
      sessions.length,
      orders.filter((o) => o.status === "pending").length,
      "an open session for each pending order",
    );
    for (const session of sessions) {
      const order = byId.get(session.metadata.order_id ?? "");
      assert.equal(order?.status, "pending", `${session.id} open for a ${order?.status} order`);
      assert.equal(order?.checkout_session_id, session.id);
    }
  },
);
