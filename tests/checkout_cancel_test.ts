/**
 * `POST /functions/v1/guest-checkout/cancel` (and enhanced-checkout's): the shopper back
 * on cancel_url releases the reservation at once, idempotently, proved by the client
 * key; a payment racing the cancel never leaves an order both paid and released.
 */
import assert from "node:assert/strict";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  callCheckout,
  emulator,
  guestBody,
  INTEGRATION,
  KETTLE,
  stockOf,
  stripeOf,
  userBody,
} from "./checkout_helpers.ts";
import { cancelCheckout } from "../supabase/functions/_shared/checkout_cancel.ts";
import { createDb, rpcOf } from "../supabase/functions/_shared/db.ts";

async function cancel(
  stack: TestStack,
  fn: "guest-checkout" | "enhanced-checkout",
  call: { key: string | null; orderId: unknown; token?: string },
) {
  const headers = new Headers({ "content-type": "application/json" });
  if (call.key !== null) headers.set("idempotency-key", call.key);
  if (call.token) headers.set("authorization", `Bearer ${call.token}`);
  const response = await fetch(`${stack.functionsUrl}/${fn}/cancel`, {
    method: "POST",
    headers,
    body: JSON.stringify({ order_id: call.orderId }),
  });
  const text = await response.text();
  return { status: response.status, text, json: JSON.parse(text) as Record<string, unknown> };
}

const codeOf = (json: Record<string, unknown>) => (json.error as { code: string }).code;

Deno.test("cancelling a checkout", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  const control = emulator(stack);
  const stripe = stripeOf(stack);
  const order = async (id: string) =>
    (await stack.sql<
      { status: string; released: boolean; cancelled: boolean; needs_review: boolean }[]
    >`
      select status, stock_released_at is not null as released, cancelled_at is not null as cancelled,
        needs_review
      from public.orders where id = ${id}`)[0];

  await t.step(
    "releases a pending order once, expires its session at Stripe, answers the same twice",
    async () => {
      const stock = await stockOf(stack, KETTLE);
      const key = crypto.randomUUID();
      const body = guestBody({ items: [{ product_id: KETTLE, quantity: 2 }] });
      const created = await callCheckout(stack, "guest-checkout", { key, body });
      assert.equal(created.status, 201, created.text);
      const orderId = created.json.order_id as string;
      assert.equal(await stockOf(stack, KETTLE), (stock ?? 0) - 2);

      const first = await cancel(stack, "guest-checkout", { key, orderId });
      assert.equal(first.status, 200, first.text);
      assert.deepEqual(first.json, { order_id: orderId, status: "expired" });
      assert.deepEqual(await order(orderId), {
        status: "expired",
        released: true,
        cancelled: true,
        needs_review: false,
      });
      assert.equal(await stockOf(stack, KETTLE), stock);
      const session = await stripe.checkout.sessions.retrieve(
        created.json.checkout_session_id as string,
      );
      assert.equal(session.status, "expired");

      const second = await cancel(stack, "guest-checkout", { key, orderId });
      assert.equal(second.status, 200);
      assert.equal(second.text, first.text);
      assert.equal(await stockOf(stack, KETTLE), stock, "released once");
      const [expiries] = await stack.sql<{ n: number }[]>`
        select count(*)::int as n from public.stripe_idempotency_keys
        where operation_type = 'checkout:expire' and operation_id = ${orderId}
          and status = 'succeeded'`;
      assert.equal(expiries?.n, 1);
    },
  );

  await t.step("the client key proves the order: another key or scope finds nothing", async () => {
    const key = crypto.randomUUID();
    const created = await callCheckout(stack, "guest-checkout", { key });
    const orderId = created.json.order_id as string;
    const other = await cancel(stack, "guest-checkout", { key: crypto.randomUUID(), orderId });
    assert.equal(other.status, 404, other.text);
    assert.equal(codeOf(other.json), "order_not_found");
    const user = await stack.mintUserToken({ sub: crypto.randomUUID(), email: "u@example.com" });
    const asUser = await cancel(stack, "enhanced-checkout", { key, orderId, token: user });
    assert.equal(asUser.status, 404, asUser.text);
    assert.equal((await order(orderId))?.status, "pending");

    const missing = await cancel(stack, "guest-checkout", { key: null, orderId });
    assert.equal(missing.status, 400);
    assert.equal(codeOf(missing.json), "idempotency_key_missing");
    const bad = await cancel(stack, "guest-checkout", { key, orderId: "nope" });
    assert.equal(bad.status, 400);
    assert.equal(codeOf(bad.json), "invalid_request");
  });

  await t.step("a signed-in user cancels their own order on enhanced-checkout", async () => {
    const id = crypto.randomUUID();
    const token = await stack.mintUserToken({ sub: id, email: "c@example.com" });
    const key = crypto.randomUUID();
    const created = await callCheckout(stack, "enhanced-checkout", {
      key,
      token,
      body: userBody(),
    });
    assert.equal(created.status, 201, created.text);
    const orderId = created.json.order_id as string;
    const unsigned = await cancel(stack, "enhanced-checkout", { key, orderId });
    assert.equal(unsigned.status, 401);
    const guest = await cancel(stack, "guest-checkout", { key, orderId });
    assert.equal(guest.status, 404, "a guest cannot cancel a user's order");
    const done = await cancel(stack, "enhanced-checkout", { key, orderId, token });
    assert.equal(done.status, 200, done.text);
    assert.equal((await order(orderId))?.status, "expired");
  });

  await t.step("a paid order is refused with 409 order_paid", async () => {
    const key = crypto.randomUUID();
    const created = await callCheckout(stack, "guest-checkout", { key });
    const orderId = created.json.order_id as string;
    await control.pay(created.json.checkout_session_id as string);
    await control.waitForDeliveries();
    assert.equal((await order(orderId))?.status, "paid");
    const refused = await cancel(stack, "guest-checkout", { key, orderId });
    assert.equal(refused.status, 409, refused.text);
    assert.equal(codeOf(refused.json), "order_paid");
    assert.deepEqual((refused.json.error as { details: unknown }).details, {
      order_id: orderId,
      order_status: "paid",
    });
    assert.deepEqual(await order(orderId), {
      status: "paid",
      released: false,
      cancelled: false,
      needs_review: false,
    });
  });

  await t.step(
    "a session paid at Stripe before its webhook arrives keeps its reservation: 409 order_paid",
    async () => {
      const stock = await stockOf(stack, KETTLE) ?? 0;
      const key = crypto.randomUUID();
      const body = guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] });
      const created = await callCheckout(stack, "guest-checkout", { key, body });
      assert.equal(created.status, 201, created.text);
      const orderId = created.json.order_id as string;
      await control.stopWebhooks("hold");
      try {
        await control.pay(created.json.checkout_session_id as string);
        const refused = await cancel(stack, "guest-checkout", { key, orderId });
        assert.equal(refused.status, 409, refused.text);
        assert.equal(codeOf(refused.json), "order_paid");
        assert.deepEqual(await order(orderId), {
          status: "pending",
          released: false,
          cancelled: false,
          needs_review: false,
        });
      } finally {
        await control.resumeWebhooks();
      }
      await control.waitForDeliveries();
      assert.deepEqual(await order(orderId), {
        status: "paid",
        released: false,
        cancelled: false,
        needs_review: false,
      });
      assert.equal(await stockOf(stack, KETTLE), stock - 1, "the paid unit stays sold");
    },
  );

  await t.step("Stripe down: a cancel releases nothing (503), its retry releases", async () => {
    const stock = await stockOf(stack, KETTLE) ?? 0;
    const key = crypto.randomUUID();
    const body = guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] });
    const created = await callCheckout(stack, "guest-checkout", { key, body });
    const orderId = created.json.order_id as string;
    const route = "POST /v1/checkout/sessions/:id/expire";
    await control.addFault({ route, mode: "before", status: 503, times: 2 });
    const down = await cancel(stack, "guest-checkout", { key, orderId });
    assert.equal(down.status, 503, down.text);
    assert.equal(codeOf(down.json), "stripe_unavailable");
    assert.equal((await order(orderId))?.status, "pending");
    assert.equal(await stockOf(stack, KETTLE), stock - 1);
    await control.clearFaults();
    const done = await cancel(stack, "guest-checkout", { key, orderId });
    assert.equal(done.status, 200, done.text);
    assert.equal((await order(orderId))?.released, true);
    assert.equal(await stockOf(stack, KETTLE), stock);
    const session = await stripe.checkout.sessions.retrieve(
      created.json.checkout_session_id as string,
    );
    assert.equal(session.status, "expired");
  });

  await t.step(
    "Stripe refusing to expire a session still open: 503, not order_paid; the retry releases",
    async () => {
      const stock = await stockOf(stack, KETTLE) ?? 0;
      const key = crypto.randomUUID();
      const body = guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] });
      const created = await callCheckout(stack, "guest-checkout", { key, body });
      const orderId = created.json.order_id as string;
      const route = "POST /v1/checkout/sessions/:id/expire";
      await control.addFault({ route, mode: "before", status: 400, times: 1 });
      const refused = await cancel(stack, "guest-checkout", { key, orderId });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(codeOf(refused.json), "stripe_unavailable");
      assert.deepEqual(await order(orderId), {
        status: "pending",
        released: false,
        cancelled: false,
        needs_review: false,
      });
      const session = created.json.checkout_session_id as string;
      assert.equal((await stripe.checkout.sessions.retrieve(session)).status, "open");
      const done = await cancel(stack, "guest-checkout", { key, orderId });
      assert.equal(done.status, 200, done.text);
      assert.equal((await order(orderId))?.released, true);
      assert.equal(await stockOf(stack, KETTLE), stock);
      assert.equal((await stripe.checkout.sessions.retrieve(session)).status, "expired");
    },
  );

  await t.step("a cancel racing a payment: never both paid and released", async () => {
    const stock = await stockOf(stack, KETTLE) ?? 0;
    const body = guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] });
    const checkouts = [];
    for (let i = 0; i < stock; i++) {
      const key = crypto.randomUUID();
      const created = await callCheckout(stack, "guest-checkout", { key, body });
      assert.equal(created.status, 201, created.text);
      checkouts.push({ key, created });
    }
    const results = await Promise.all(checkouts.map(({ key, created }) =>
      Promise.all([
        cancel(stack, "guest-checkout", { key, orderId: created.json.order_id }),
        control.pay(created.json.checkout_session_id as string).then(() => "paid", () => "refused"),
      ])
    ));
    await control.waitForDeliveries();
    let paid = 0;
    for (const [i, [cancelled, payment]] of results.entries()) {
      const state = await order(checkouts[i]?.created.json.order_id as string);
      assert.ok(state, "order exists");
      assert.ok(!(state.status === "paid" && state.released), `paid and released: ${i}`);
      if (cancelled.status === 200) {
        assert.notEqual(state.status, "paid");
        assert.equal(state.released, true);
        // Stripe took the payment before the session was expired: a human refunds it.
        assert.equal(state.needs_review, payment === "paid");
      } else {
        assert.equal(cancelled.status, 409, cancelled.text);
        assert.equal(state.status, "paid");
        assert.equal(state.released, false);
        paid++;
      }
    }
    assert.equal(await stockOf(stack, KETTLE), stock - paid, "each reservation counted once");
  });
  await t.step(
    "the expiry's webhook lands before the cancel's second call: released once, cancelled_at set",
    async () => {
      await stack.sql`update public.products set stock = stock + 1 where id = ${KETTLE}`;
      const stock = await stockOf(stack, KETTLE);
      const key = crypto.randomUUID();
      const body = guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] });
      const created = await callCheckout(stack, "guest-checkout", { key, body });
      assert.equal(created.status, 201, created.text);
      const orderId = created.json.order_id as string;
      // The real handler, the real Stripe client: only the order of events is forced, as when
      // Stripe's checkout.session.expired reaches the webhook before the expire call returns.
      const sessions = stripe.checkout.sessions;
      const deps = {
        rpc: rpcOf(createDb(stack.apiUrl, stack.serviceRoleKey)),
        config: { IDEMPOTENCY_LEASE_SECONDS: 30 },
        stripe: {
          checkout: {
            sessions: Object.assign(Object.create(sessions), {
              expire: async (...args: Parameters<typeof sessions.expire>) => {
                const expired = await sessions.expire(...args);
                await control.waitForDeliveries();
                assert.equal((await order(orderId))?.status, "expired", "the webhook came first");
                return expired;
              },
            }),
          },
        },
      };
      const request = () =>
        new Request(`${stack.functionsUrl}/guest-checkout/cancel`, {
          method: "POST",
          headers: { "content-type": "application/json", "idempotency-key": key },
          body: JSON.stringify({ order_id: orderId }),
        });
      const answer = await cancelCheckout(deps, request(), "guest", new Headers());
      assert.equal(answer.status, 200, await answer.clone().text());
      assert.deepEqual(await answer.json(), { order_id: orderId, status: "expired" });
      assert.deepEqual(await order(orderId), {
        status: "expired",
        released: true,
        cancelled: true,
        needs_review: false,
      });
      assert.equal(await stockOf(stack, KETTLE), stock, "stock back once");
    },
  );
});
