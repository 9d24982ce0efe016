/**
 * Only the order's own Checkout Session pays it: a second genuine session carrying the
 * same order id (same amount, signed by Stripe) is flagged for review, never paid.
 */
import assert from "node:assert/strict";
import { startTestStack, supabaseClient, type TestStack } from "./harness.ts";
import { DRIPPER, emulator, INTEGRATION, stripeOf } from "./checkout_helpers.ts";
import {
  createProduct,
  eventRows,
  guestCheckout,
  orderState,
  outboxTopics,
  paidOrderInSql,
  runOps,
  sendEvent,
  sessionObject,
  uniqueStripeId,
} from "./webhook_helpers.ts";
import { refundObject } from "./refund_helpers.ts";

/** A session for `orderId` created outside the checkout flow, with its own idempotency key. */
async function secondSession(
  stack: TestStack,
  orderId: string,
  quantity: number,
  metadata: Record<string, string> = {},
): Promise<string> {
  const stripe = stripeOf(stack);
  const [item] = await stack.sql<{ name: string; unit_amount: number }[]>`
    select name, unit_amount from public.order_items where order_id = ${orderId}`;
  if (!item) throw new Error(`no items for ${orderId}`);
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{
      quantity,
      price_data: {
        currency: "usd",
        unit_amount: item.unit_amount,
        product_data: { name: item.name },
      },
    }],
    success_url: "http://localhost:3000/thanks",
    cancel_url: "http://localhost:3000/cart",
    client_reference_id: orderId,
    metadata: { order_id: orderId, ...metadata },
    payment_intent_data: { metadata: { order_id: orderId } },
    customer_email: "mallory@example.com",
  }, { idempotencyKey: `checkout:create:${orderId}:${crypto.randomUUID()}` });
  return session.id;
}

Deno.test("only the order's own session pays it", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  const control = emulator(stack);

  await t.step(
    "a paid second session with the same order id and amount flags the order, unpaid",
    async () => {
      const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
      const other = await secondSession(stack, checkout.order_id, 1);
      await control.pay(other);
      await control.waitForDeliveries();

      const order = await orderState(stack.sql, checkout.order_id);
      assert.equal(order.status, "pending", "a foreign session must not pay the order");
      assert.equal(order.paid, false);
      assert.equal(order.checkout_session_id, checkout.checkout_session_id);
      assert.equal(order.needs_review, true);
      assert.match(order.review_reason ?? "", new RegExp(`session ${other}`));
      assert.match(order.review_reason ?? "", /not the order's session/);
      assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.needs_review"]);
      const row = (await eventRows(stack.sql)).find((r) =>
        r.order_id === checkout.order_id && r.type === "checkout.session.completed"
      );
      assert.equal(row?.status, "processed");
      assert.match(row?.result ?? "", /flagged/);

      // The operator sees it.
      const { data } = await supabaseClient(stack, stack.serviceRoleKey).rpc(
        "webhook_ops_report",
        {},
      );
      const listed = (data as { orders_needing_review: { order_id: string }[] })
        .orders_needing_review.map((o) => o.order_id);
      assert.ok(listed.includes(checkout.order_id));
      const ops = await runOps(stack, "--json");
      assert.equal(ops.code, 1, ops.stderr);
      const reported = JSON.parse(ops.stdout) as { orders_needing_review: { order_id: string }[] };
      assert.ok(
        reported.orders_needing_review.some((o) => o.order_id === checkout.order_id),
        "deno task ops lists the order",
      );

      // The order's own session still pays it.
      await control.pay(checkout.checkout_session_id);
      await control.waitForDeliveries();
      const paid = await orderState(stack.sql, checkout.order_id);
      assert.equal(paid.status, "paid");
      assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), [
        "order.needs_review",
        "order.paid",
      ]);
    },
  );

  await t.step(
    "before the session is recorded, only the one created under the order's stored key is adopted",
    async () => {
      const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
      // As a crash between Stripe's answer and record_checkout leaves it: the operation
      // open under its stored key, no session on the order.
      await stack.sql`
        update public.orders set checkout_session_id = null, checkout_url = null
        where id = ${checkout.order_id}`;
      await stack.sql`
        update public.stripe_idempotency_keys
        set status = 'open', stripe_resource_id = null, lease_token = null, locked_until = null
        where operation_type = 'checkout:create' and operation_id = ${checkout.order_id}`;

      // A genuine session under another key, even one that claims a key of this order.
      const other = await secondSession(stack, checkout.order_id, 1, {
        checkout_key: `checkout:create:${checkout.order_id}:${crypto.randomUUID()}`,
      });
      await control.pay(other);
      await control.waitForDeliveries();
      const flagged = await orderState(stack.sql, checkout.order_id);
      assert.equal(flagged.status, "pending");
      assert.equal(flagged.checkout_session_id, null, "the foreign session was not adopted");
      assert.equal(flagged.needs_review, true);
      assert.match(flagged.review_reason ?? "", new RegExp(`session ${other}`));

      // The session the checkout created (under the stored key) is recognised and pays.
      await control.pay(checkout.checkout_session_id);
      await control.waitForDeliveries();
      const paid = await orderState(stack.sql, checkout.order_id);
      assert.equal(paid.status, "paid");
      assert.equal(paid.checkout_session_id, checkout.checkout_session_id);
    },
  );

  await t.step("a second session that only expires or fails is ignored", async () => {
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
    const other = await secondSession(stack, checkout.order_id, 1);
    const stripe = stripeOf(stack);
    await stripe.checkout.sessions.expire(other);
    await control.waitForDeliveries();
    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "pending");
    assert.equal(order.needs_review, false);
  });

  await t.step(
    "a second session's payment on a paid, partially refunded or refunded order is a second payment",
    async () => {
      const product = await createProduct(stack.sql, 100);
      const refunded: Record<string, number> = { paid: 0, partially_refunded: 400, refunded: 1500 };
      for (const [status, amount] of Object.entries(refunded)) {
        const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
        if (amount > 0) {
          await sendEvent(
            stack,
            "refund.created",
            refundObject(uniqueStripeId("re"), paymentIntent, amount, "succeeded"),
          );
        }
        assert.equal((await orderState(stack.sql, orderId)).status, status);

        // The same payment seen through another session changes nothing.
        const same = await sendEvent(
          stack,
          "checkout.session.completed",
          sessionObject(orderId, uniqueStripeId("cs_test"), {
            amount_total: 1500,
            payment_status: "paid",
            payment_intent: paymentIntent,
          }),
        );
        assert.equal(same.row?.result, `no change: already ${status}`);
        assert.equal((await orderState(stack.sql, orderId)).needs_review, false);

        const other = uniqueStripeId("cs_test");
        const second = await sendEvent(
          stack,
          "checkout.session.completed",
          sessionObject(orderId, other, {
            amount_total: 1500,
            payment_status: "paid",
            payment_intent: uniqueStripeId("pi_test"),
          }),
        );
        assert.equal(second.row?.result, "flagged: second payment", status);
        const order = await orderState(stack.sql, orderId);
        assert.equal(order.status, status, "a second payment moves nothing");
        assert.equal(order.needs_review, true);
        assert.match(
          order.review_reason ?? "",
          new RegExp(`second payment through session ${other} .* for a ${status} order`),
        );
      }
    },
  );
});
