import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  callCheckout,
  emulator,
  INTEGRATION,
  sessionsCreated,
  sleep,
  waitUntil,
} from "./checkout_helpers.ts";

// Long enough for the killed function to restart (about 1 s here) while the lease lives.
const LEASE_SECONDS = 5;

Deno.test("a function killed after Stripe created the session", INTEGRATION, async (t) => {
  await using stack = await startTestStack({
    functionEnv: {
      IDEMPOTENCY_LEASE_SECONDS: String(LEASE_SECONDS),
      STRIPE_TIMEOUT_MS: "800",
      STRIPE_MAX_NETWORK_RETRIES: "0",
    },
  });
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
