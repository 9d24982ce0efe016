/**
 * An order is re-checked at every step after begin: an order that closed while its
 * Stripe call ran gets no checkout, and the session Stripe made for it is expired at
 * Stripe by its own idempotent operation (`checkout:expire:<order id>`).
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  BEANS,
  callCheckout,
  checkoutStripeFailed,
  emulator,
  guestBody,
  INTEGRATION,
  orderOfKey,
  sessionsCreated,
  sleep,
  stockOf,
  stripeOf,
  waitUntil,
} from "./checkout_helpers.ts";
import { call } from "../supabase/functions/_shared/db.ts";
import { sqlRpc } from "./sql_rpc.ts";

const ROUTE = "POST /v1/checkout/sessions";

Deno.test("checkout of an order that closed meanwhile", INTEGRATION, async (t) => {
  await using stack = await startTestStack({
    functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0", STRIPE_TIMEOUT_MS: "10000" },
  });
  const control = emulator(stack);
  const stripe = stripeOf(stack);

  const orderOf = (key: string) => orderOfKey(stack.sql, key);

  await t.step(
    "an order expired by the cleanup while Stripe holds the call: 409 checkout_closed, the session expired at Stripe, stock counted once",
    async () => {
      await control.reset();
      const stock = await stockOf(stack, BEANS);
      // The session is created, then Stripe holds the answer for 2 s.
      await control.addFault({ route: ROUTE, mode: "delay", phase: "after", delay_ms: 2000 });
      const key = crypto.randomUUID();
      const pending = callCheckout(stack, "guest-checkout", { key, body: guestBody() });

      await waitUntil("the order is begun", async () => (await orderOf(key)) !== undefined);
      assert.equal(await stockOf(stack, BEANS), (stock ?? 0) - 2, "reserved");
      await stack.sql`update public.orders set checkout_expires_at = now() - interval '2 hours'
        where idempotency_key = ${key}`;
      const [cleaned] = await stack.sql`select * from public.cleanup_expired_idempotency_keys(100)`;
      assert.equal(cleaned?.expired_orders, 1);
      assert.equal(await stockOf(stack, BEANS), stock, "released by the cleanup");

      const closed = await pending;
      assert.equal(closed.status, 409, closed.text);
      const order = await orderOf(key);
      const error = closed.json.error as { code: string; details: { order_id: string } };
      assert.equal(error.code, "checkout_closed");
      assert.equal(error.details.order_id, order?.id);
      assert.equal(order?.status, "expired");
      const sessionId = order?.checkout_session_id;
      assert.ok(sessionId, "the order keeps the id of the session Stripe made for it");
      assert.equal((await stripe.checkout.sessions.retrieve(sessionId)).status, "expired");
      const [expire] = await stack.sql<{ status: string; stripe_idempotency_key: string }[]>`
        select status, stripe_idempotency_key from public.stripe_idempotency_keys
        where operation_type = 'checkout:expire' and operation_id = ${order?.id ?? ""}`;
      assert.equal(expire?.status, "succeeded");
      assert.match(
        expire?.stripe_idempotency_key ?? "",
        /^checkout:expire:[0-9a-f-]{36}:[0-9a-f-]{36}$/,
      );
      assert.equal(await stockOf(stack, BEANS), stock, "counted once");

      const replay = await callCheckout(stack, "guest-checkout", { key, body: guestBody() });
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.equal(replay.text, closed.text);
    },
  );

  await t.step(
    "a resumed checkout waits for an expiry in progress and then calls Stripe for nothing",
    async () => {
      const key = await checkoutStripeFailed(stack);
      const order = await orderOf(key);
      let resumed: ReturnType<typeof callCheckout> | undefined;
      await stack.sql.begin(async (tx) => {
        await tx`select public.move_order(${order?.id ?? ""}::uuid, 'expired', 'cleanup')`;
        resumed = callCheckout(stack, "guest-checkout", { key });
        await sleep(500); // the retry reaches begin_checkout and waits on the order's lock
      });
      const closed = await resumed;
      assert.equal(closed?.status, 409, closed?.text);
      assert.equal((closed?.json.error as { code: string }).code, "checkout_closed");
      assert.equal(await sessionsCreated(stack), 0, "no session for a closing order");
    },
  );

  /** A begun checkout, its Stripe operation claimed, straight through the SQL functions. */
  async function begin() {
    const rpc = sqlRpc(stack.sql);
    const key = crypto.randomUUID();
    const fingerprint = key.replaceAll("-", "").repeat(2);
    const claim = await call(rpc, "claim_idempotency_key", {
      p_scope: "guest",
      p_key: key,
      p_request_fingerprint: fingerprint,
      p_lease_seconds: 60,
      p_ttl_seconds: 3600,
    });
    assert.ok(claim.outcome === "new");
    const begun = await call(rpc, "begin_checkout", {
      p_scope: "guest",
      p_idempotency_key: key,
      p_request_lease_token: claim.lease_token,
      p_request_fingerprint: fingerprint,
      p_items: [{ product_id: BEANS, quantity: 1 }],
      p_success_url: "http://localhost:3000/ok",
      p_cancel_url: "http://localhost:3000/cart",
      p_email: "ada@example.com",
    });
    assert.ok(begun.outcome === "ready", JSON.stringify(begun));
    const args = {
      p_scope: "guest",
      p_idempotency_key: key,
      p_request_lease_token: claim.lease_token,
      p_order_id: begun.order_snapshot.id,
      p_stripe_lease_token: begun.stripe_lease_token,
    };
    return { rpc, args, orderId: begun.order_snapshot.id };
  }
  const released = async (orderId: string) =>
    (await stack.sql<{ status: string; released: boolean }[]>`
      select status, stock_released_at is not null as released from public.orders
      where id = ${orderId}`)[0];

  await t.step("a Stripe rejection gives no stock back for an order paid meanwhile", async () => {
    const { rpc, args, orderId } = await begin();
    await stack.sql`select public.move_order(${orderId}::uuid, 'paid', 'evt_test_paid')`;
    const stock = await stockOf(stack, BEANS);
    const failed = await call(rpc, "fail_checkout", {
      ...args,
      p_error: { code: "resource_missing" },
      p_response_status: 502,
      p_response_body: { error: { code: "stripe_rejected" } },
    });
    assert.equal(failed, "order_closed");
    assert.deepEqual(await released(orderId), { status: "paid", released: false });
    assert.equal(await stockOf(stack, BEANS), stock);
  });

  await t.step("no fresh expiry for an order expired meanwhile: its operation ends", async () => {
    const { rpc, args, orderId } = await begin();
    await stack.sql`select public.move_order(${orderId}::uuid, 'expired', 'cleanup')`;
    const stock = await stockOf(stack, BEANS);
    const refreshed = await call(rpc, "refresh_checkout_expiry", {
      ...args,
      p_expires_at: new Date(Date.now() + 3600_000).toISOString(),
    });
    assert.equal(refreshed, "order_closed");
    const [op] = await stack.sql<{ status: string }[]>`
      select status from public.stripe_idempotency_keys
      where operation_type = 'checkout:create' and operation_id = ${orderId}`;
    assert.equal(op?.status, "failed");
    assert.equal(await stockOf(stack, BEANS), stock, "released once, by the expiry");
  });
});
