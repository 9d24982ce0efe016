import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  callCheckout,
  emulator,
  FILTERS,
  guestBody,
  INTEGRATION,
  sessionsCreated,
  sleep,
  waitUntil,
} from "./checkout_helpers.ts";

// Long enough for the killed function to restart (about 1 s here) while the lease lives.
const LEASE_SECONDS = 5;

/** A short lease, no SDK retries, and a Stripe timeout that must stay below the lease. */
function crashStack(stripeTimeoutMs: number) {
  return startTestStack({
    functionEnv: {
      IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
      STRIPE_TIMEOUT_MS: String(stripeTimeoutMs),
      STRIPE_MAX_NETWORK_RETRIES: "0",
    },
  });
}

Deno.test("a function killed after Stripe created the session", INTEGRATION, async (t) => {
  await using stack = await crashStack(800);
  const control = emulator(stack);

  await t.step("the retry waits for the lease, then returns that same session", async () => {
    // Stripe creates the session at once but holds its answer: the function is
    // killed while it waits, before it can record anything.
    await control.addFault({
      route: "POST /v1/checkout/sessions",
      mode: "delay",
      phase: "after",
      delay_ms: 600,
      times: 1,
    });
    const key = crypto.randomUUID();
    const inFlight = callCheckout(stack, "guest-checkout", { key });
    await waitUntil("Stripe created the session", async () => (await sessionsCreated(stack)) === 1);
    await stack.killFunction("guest-checkout");
    const lost = await inFlight;
    assert.ok(lost.status >= 500, `the caller saw the crash: ${lost.status}`);
    const [order] = await stack.sql<{ checkout_session_id: string | null }[]>`
      select checkout_session_id from public.orders where idempotency_key = ${key}`;
    assert.equal(order?.checkout_session_id, null, "nothing was recorded");

    await stack.startFunction("guest-checkout");
    const early = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(early.status, 409, early.text);
    assert.equal((early.json.error as { code: string }).code, "idempotency_key_in_use");
    assert.match(early.headers.get("retry-after") ?? "", /^[12]$/);

    await sleep(LEASE_SECONDS * 1000 + 300);
    const retry = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(retry.status, 201, retry.text);
    assert.equal(await sessionsCreated(stack), 1, "the emulator counts one session");
    const [recorded] = await stack.sql<{ checkout_session_id: string }[]>`
      select checkout_session_id from public.orders where idempotency_key = ${key}`;
    assert.equal(recorded?.checkout_session_id, retry.json.checkout_session_id);
  });
});

Deno.test(
  "a function process SIGKILLed under 20 checkouts in flight comes back by itself",
  INTEGRATION,
  async () => {
    await using stack = await crashStack(2_500);
    const control = emulator(stack);
    const HELD = 8;
    // The first sessions are created at once but their answers held: those requests sit between
    // the Stripe call and the record when the process dies.
    await control.addFault({
      route: "POST /v1/checkout/sessions",
      mode: "delay",
      phase: "after",
      delay_ms: 2_000,
      times: HELD,
    });
    const keys = Array.from({ length: 20 }, () => crypto.randomUUID());
    const inFlight = Promise.all(keys.map((key) => callCheckout(stack, "guest-checkout", { key })));
    await waitUntil(
      "Stripe created the held sessions",
      async () => (await sessionsCreated(stack)) >= HELD,
    );
    const pid = stack.functionProcess("guest-checkout").pid;
    assert.ok(pid);
    Deno.kill(pid, "SIGKILL");
    const killedAt = Date.now();
    const first = await inFlight;
    for (const answer of first) {
      assert.ok(answer.status === 201 || answer.status >= 500, `${answer.status} ${answer.text}`);
    }
    assert.ok(
      first.filter((a) => a.status >= 500).length >= HELD,
      "the held requests saw the crash",
    );

    // No restart of the stack: the supervisor boots a fresh process on its own.
    await waitUntil("the function answers again", async () => {
      const probe = await callCheckout(stack, "guest-checkout", {
        key: crypto.randomUUID(),
        body: guestBody({ items: [{ product_id: FILTERS, quantity: 1 }] }),
      });
      return probe.status === 201;
    });
    assert.ok(Date.now() - killedAt < 5_000, `answered again after ${Date.now() - killedAt} ms`);
    assert.notEqual(stack.functionProcess("guest-checkout").pid, pid);
    const health = await (await fetch(`${stack.apiUrl}/health`)).json();
    assert.equal(health.processes["guest-checkout"].restarts, 1);
    assert.match(health.processes["guest-checkout"].last_exit, /killed by SIGKILL/);

    // Every key retried with the same body ends with its one order and its one session.
    const final = await Promise.all(keys.map(async (key) => {
      for (const deadline = Date.now() + (LEASE_SECONDS + 10) * 1000; Date.now() < deadline;) {
        const answer = await callCheckout(stack, "guest-checkout", { key });
        if (answer.status === 200 || answer.status === 201) return answer;
        assert.ok(answer.status === 409 || answer.status >= 500, `${answer.status} ${answer.text}`);
        await sleep(Number(answer.headers.get("retry-after") ?? "1") * 1000);
      }
      throw new Error(`key ${key} never finished`);
    }));
    const orders = await stack.sql<{ idempotency_key: string; checkout_session_id: string }[]>`
    select idempotency_key, checkout_session_id from public.orders
    where idempotency_key = any(${keys})`;
    assert.equal(orders.length, keys.length, "exactly one order per key");
    const byKey = new Map(orders.map((order) => [order.idempotency_key, order]));
    keys.forEach((key, i) => {
      assert.equal(byKey.get(key)?.checkout_session_id, final[i]?.json.checkout_session_id);
    });
    assert.equal(new Set(orders.map((order) => order.checkout_session_id)).size, keys.length);
    assert.equal(
      await sessionsCreated(stack),
      keys.length + 1,
      "one session per key, plus the probe",
    );
  },
);
