/**
 * End to end: guest checkout → the emulator's hosted page (over HTTP) → the emulator
 * signs and delivers the events → stripe-webhook → the order and its stock.
 */
import assert from "node:assert/strict";
import { startTestStack, supabaseClient } from "./harness.ts";
import { DRIPPER, emulator, INTEGRATION, stockOf } from "./checkout_helpers.ts";
import { guestCheckout, orderState, outboxTopics, submitHostedPage } from "./webhook_helpers.ts";

Deno.test(
  "paying on the hosted page marks the order paid and keeps its stock taken",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 2 }]);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 2);

    const redirect = await submitHostedPage(checkout.checkout_url, "pay");
    assert.equal(
      redirect,
      `http://localhost:3000/thanks?session_id=${checkout.checkout_session_id}`,
    );
    await emulator(stack).waitForDeliveries();

    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "paid");
    assert.equal(order.paid, true);
    assert.match(order.payment_intent_id ?? "", /^pi_/);
    assert.equal(order.stock_released, false);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 2);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);

    // The success page only knows the session id; it may learn the status and no more.
    const answer = await fetch(
      `${stack.functionsUrl}/checkout-status?session_id=${checkout.checkout_session_id}`,
    );
    assert.equal(answer.status, 200);
    assert.equal((await answer.json()).status, "paid");
    const anon = supabaseClient(stack, stack.anonKey);
    const denied = await anon.rpc("webhook_ops_report", {});
    assert.notEqual(denied.error, null, "anon must not run the operator report");
  },
);

Deno.test(
  "a cancelled checkout that expires gives its stock back and expires the order",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 3 }]);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 3);

    assert.equal(
      await submitHostedPage(checkout.checkout_url, "cancel"),
      "http://localhost:3000/cart",
    );
    await emulator(stack).waitForDeliveries();
    assert.equal((await orderState(stack.sql, checkout.order_id)).status, "pending");

    // Past the session's expires_at: the 30-minute TTL plus the 60 s margin (README).
    const clock = await emulator(stack).advanceClock(32 * 60);
    assert.deepEqual(clock.expired, [checkout.checkout_session_id]);
    await emulator(stack).waitForDeliveries();

    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "expired");
    assert.equal(order.stock_released, true);
    assert.equal(await stockOf(stack, DRIPPER), before);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.expired"]);
  },
);

Deno.test(
  "a delayed payment waits in awaiting_payment, then succeeds into paid",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    await control.setAsyncPaymentDelay(null); // settle by hand, to observe the middle state
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);

    await submitHostedPage(checkout.checkout_url, "pay_delayed_succeed");
    await control.waitForDeliveries();
    const waiting = await orderState(stack.sql, checkout.order_id);
    assert.equal(waiting.status, "awaiting_payment");
    assert.equal(waiting.paid, false);

    await control.settleAsync(checkout.checkout_session_id);
    await control.waitForDeliveries();
    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "paid");
    assert.equal(order.stock_released, false);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 1);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
  },
);

Deno.test(
  "a delayed payment that fails moves the order to payment_failed and gives the stock back",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    await control.setAsyncPaymentDelay(null);
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 2 }]);

    await submitHostedPage(checkout.checkout_url, "pay_delayed_fail");
    await control.waitForDeliveries();
    assert.equal((await orderState(stack.sql, checkout.order_id)).status, "awaiting_payment");
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 2);

    await control.settleAsync(checkout.checkout_session_id);
    await control.waitForDeliveries();
    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "payment_failed");
    assert.equal(order.stock_released, true);
    assert.equal(await stockOf(stack, DRIPPER), before);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.payment_failed"]);
  },
);
