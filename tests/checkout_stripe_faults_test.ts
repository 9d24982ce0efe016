import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  BEANS,
  callCheckout,
  emulator,
  INTEGRATION,
  requireOrderOfKey,
  sessionsCreated,
  stockOf,
  userBody,
} from "./checkout_helpers.ts";

const ROUTE = "POST /v1/checkout/sessions";

Deno.test("checkout when Stripe fails", INTEGRATION, async (t) => {
  // The SDK's own retries are off so each fault reaches our code (the emulator's
  // tests show the SDK's retry with our key); the lease is short for the crash case.
  await using stack = await startTestStack({
    functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0", STRIPE_TIMEOUT_MS: "2000" },
  });
  const control = emulator(stack);

  async function stripeKeyOf(orderId: string): Promise<string | undefined> {
    const [row] = await stack.sql<{ stripe_idempotency_key: string }[]>`
      select stripe_idempotency_key from public.stripe_idempotency_keys
      where operation_type = 'checkout:create' and operation_id = ${orderId}`;
    return row?.stripe_idempotency_key;
  }

  const onlyOrderFor = (key: string) => requireOrderOfKey(stack.sql, key);

  await t.step(
    "a 500 before the effect → 503 with Retry-After; the retry makes 1 session",
    async () => {
      await control.reset();
      await control.addFault({ route: ROUTE, mode: "before", status: 500, times: 1 });
      const key = crypto.randomUUID();
      const first = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(first.status, 503, first.text);
      assert.equal((first.json.error as { code: string }).code, "stripe_unavailable");
      assert.match(first.headers.get("retry-after") ?? "", /^\d+$/);
      const order = await onlyOrderFor(key);
      const stripeKey = await stripeKeyOf(order.id);

      const retry = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(retry.status, 201, retry.text);
      assert.equal(await stripeKeyOf(order.id), stripeKey, "the retry reused the stored key");
      assert.equal(await sessionsCreated(stack), 1);
    },
  );

  for (const mode of ["after", "drop_after"] as const) {
    await t.step(
      `a session created but its answer lost (${mode}) comes back on retry`,
      async () => {
        await control.reset();
        await control.addFault({ route: ROUTE, mode, status: 502, times: 1 });
        const key = crypto.randomUUID();
        const first = await callCheckout(stack, "guest-checkout", { key });
        assert.equal(first.status, 503, first.text);
        assert.equal(await sessionsCreated(stack), 1, "Stripe did create it");

        const retry = await callCheckout(stack, "guest-checkout", { key });
        assert.equal(retry.status, 201, retry.text);
        assert.equal(await sessionsCreated(stack), 1, "and the retry did not create another");
        const counters = await control.counters();
        assert.ok(counters.idempotent_replays >= 1, "Stripe replayed its saved answer");
        const order = await onlyOrderFor(key);
        const [row] = await stack.sql`
        select checkout_session_id from public.orders where id = ${order.id}`;
        assert.equal(row?.checkout_session_id, retry.json.checkout_session_id);
      },
    );
  }

  await t.step(
    "a saved and replayed 500 re-keys the operation; the next retry succeeds",
    async () => {
      await control.reset();
      await control.addFault({ route: ROUTE, mode: "saved_500", times: 1 });
      const key = crypto.randomUUID();
      const first = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(first.status, 503, first.text);
      const order = await onlyOrderFor(key);
      const original = await stripeKeyOf(order.id);

      // Same key again: Stripe replays its saved 500, so the key is spent.
      const second = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(second.status, 503, second.text);
      const rekeyed = await stripeKeyOf(order.id);
      assert.notEqual(rekeyed, original);
      assert.ok(rekeyed?.startsWith(`checkout:create:${order.id}:`));

      const third = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(third.status, 201, third.text);
      assert.equal(await sessionsCreated(stack), 1);
    },
  );

  await t.step("a Stripe 400 → 502 stored and replayed, and the stock goes back", async () => {
    await control.reset();
    const token = await stack.mintUserToken({ sub: crypto.randomUUID(), email: "p@example.com" });
    const stock = await stockOf(stack, BEANS);
    const key = crypto.randomUUID();
    const body = userBody({ promotion_code: "promo_doesnotexist" });
    const first = await callCheckout(stack, "enhanced-checkout", { key, token, body });
    assert.equal(first.status, 502, first.text);
    assert.equal((first.json.error as { code: string }).code, "stripe_rejected");
    assert.equal(await stockOf(stack, BEANS), stock, "the reservation was released");
    const order = await onlyOrderFor(key);
    assert.equal(order.status, "failed");

    const replay = await callCheckout(stack, "enhanced-checkout", { key, token, body });
    assert.equal(replay.status, 502);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.text, first.text);
    assert.equal(await stockOf(stack, BEANS), stock, "released exactly once");
  });
});
