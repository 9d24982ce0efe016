/**
 * Recovery paths found by review: every one ends with the key answered and stored, a
 * single session, and no false Stripe rejection.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  callCheckout,
  checkoutStripeFailed,
  emulator,
  INTEGRATION,
  sessionsCreated,
} from "./checkout_helpers.ts";

const ROUTE = "POST /v1/checkout/sessions";

Deno.test("checkout recovery", INTEGRATION, async (t) => {
  await using stack = await startTestStack({
    functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0", STRIPE_TIMEOUT_MS: "2000" },
  });
  const control = emulator(stack);

  const keyRow = async (key: string) => {
    const [row] = await stack.sql<{ status: string; response_status: number | null }[]>`
      select status, response_status from public.idempotency_keys where key = ${key}`;
    return row;
  };

  await t.step(
    "a resumed call whose stored expiry fell under 30 minutes stores a fresh one; its lost answer comes back",
    async () => {
      const key = await checkoutStripeFailed(stack);
      // Time passes: the planned expiry is now under Stripe's 30-minute minimum.
      await stack.sql`update public.orders set checkout_expires_at = now() + interval '29 minutes'
        where idempotency_key = ${key}`;
      // The first call is refused for expires_at (and consumes one fault); the second,
      // with the fresh expiry, creates the session but its answer is lost.
      await control.addFault({ route: ROUTE, mode: "after", status: 502, times: 2 });
      const lost = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(lost.status, 503, lost.text);
      assert.equal(await sessionsCreated(stack), 1);
      const [order] = await stack.sql<{ ahead: number }[]>`
        select extract(epoch from checkout_expires_at - now())::int as ahead
        from public.orders where idempotency_key = ${key}`;
      assert.ok((order?.ahead ?? 0) > 29 * 60 + 30, `stored expiry ${order?.ahead} s ahead`);

      // The retry sends the stored parameters under the same key: Stripe replays.
      const retry = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(retry.status, 201, retry.text);
      assert.equal(await sessionsCreated(stack), 1);
    },
  );

  await t.step("an order recorded under an expired key is answered and stored again", async () => {
    await control.reset();
    const key = crypto.randomUUID();
    const first = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(first.status, 201);
    await stack.sql`delete from public.idempotency_keys where key = ${key}`;

    const again = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(again.status, 200, again.text);
    assert.equal(again.json.checkout_session_id, first.json.checkout_session_id);
    assert.deepEqual(await keyRow(key), { status: "completed", response_status: 200 });
    const replay = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.text, again.text);
    assert.equal(await sessionsCreated(stack), 1);
  });

  await t.step("a Stripe operation leased elsewhere answers 409 and releases the key", async () => {
    const key = await checkoutStripeFailed(stack);
    await stack.sql`
      update public.stripe_idempotency_keys s
      set lease_token = gen_random_uuid(), locked_until = now() + interval '1 minute'
      from public.orders o
      where o.idempotency_key = ${key} and s.operation_id = o.id::text`;
    const busy = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(busy.status, 409, busy.text);
    assert.equal((busy.json.error as { code: string }).code, "idempotency_key_in_use");
    assert.deepEqual(await keyRow(key), { status: "released", response_status: null });
  });

  await t.step(
    "an order that ended before its key got a session: 409 checkout_closed, stored",
    async () => {
      const key = await checkoutStripeFailed(stack);
      await stack.sql`update public.orders set checkout_expires_at = now() - interval '2 hours'
      where idempotency_key = ${key}`;
      const [cleaned] = await stack.sql`select * from public.cleanup_expired_idempotency_keys(100)`;
      assert.equal(cleaned?.expired_orders, 1);

      const closed = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(closed.status, 409, closed.text);
      const error = closed.json.error as { code: string; details: { order_status: string } };
      assert.equal(error.code, "checkout_closed");
      assert.equal(error.details.order_status, "expired");
      const replay = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.equal(replay.text, closed.text);
      assert.equal(await sessionsCreated(stack), 0);
    },
  );
});
