/** Stripe does not deliver in order: a late event never moves an order backwards. */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { DRIPPER, emulator, INTEGRATION, stockOf } from "./checkout_helpers.ts";
import {
  deliverSigned,
  eventRows,
  guestCheckout,
  orderState,
  outboxTopics,
  requireEvent,
  sessionEvents,
  startManualWebhookStack,
  stripeEvent,
  submitHostedPage,
} from "./webhook_helpers.ts";

Deno.test(
  "checkout.session.expired after the payment leaves the order paid and its stock taken",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
    await submitHostedPage(checkout.checkout_url, "pay");
    await emulator(stack).waitForDeliveries();
    assert.equal((await orderState(stack.sql, checkout.order_id)).status, "paid");

    // A session that completed never expires on Stripe, so the emulator cannot emit
    // this; the same session's expiry arriving late is what a stale replay would look like.
    const completed = requireEvent(
      await sessionEvents(stack, checkout.checkout_session_id),
      "checkout.session.completed",
    );
    const session = { ...completed.data.object, status: "expired", payment_status: "unpaid" };
    const expired = stripeEvent("checkout.session.expired", session);
    const delivery = await deliverSigned(stack, JSON.stringify(expired));
    assert.equal(delivery.status, 200);
    assert.deepEqual(JSON.parse(delivery.body), { received: true, outcome: "processed" });

    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "paid");
    assert.equal(order.stock_released, false);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 1);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
    const row = (await eventRows(stack.sql)).find((r) => r.stripe_event_id === expired.id);
    assert.match(row?.result ?? "", /no change: order is paid/);
  },
);

Deno.test(
  "completed (unpaid) arriving after async_payment_succeeded leaves the order paid",
  INTEGRATION,
  async () => {
    await using stack = await startManualWebhookStack();
    const control = emulator(stack);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
    await submitHostedPage(checkout.checkout_url, "pay_delayed_succeed");
    await control.settleAsync(checkout.checkout_session_id, "succeeded");
    const events = await sessionEvents(stack, checkout.checkout_session_id);
    const completed = requireEvent(events, "checkout.session.completed");
    const succeeded = requireEvent(events, "checkout.session.async_payment_succeeded");

    const { statuses } = await control.deliverEvents([succeeded.id, completed.id]);
    assert.deepEqual(statuses, [200, 200]);

    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "paid");
    assert.equal(order.paid, true);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
  },
);

Deno.test(
  "a refund delivered before its payment waits, and the payment still applies",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    await control.setWebhooks({ auto: false });
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
    await submitHostedPage(checkout.checkout_url, "pay");
    const charge = await control.refund(checkout.checkout_session_id);
    const events = await sessionEvents(stack, checkout.checkout_session_id, [
      charge.payment_intent,
    ]);
    const completed = requireEvent(events, "checkout.session.completed");
    const refunded = requireEvent(events, "charge.refunded");

    // The refund first: no effect on the order (it is not paid yet) ...
    assert.deepEqual((await control.deliverEvent(refunded.id)).statuses, [200]);
    const early = await orderState(stack.sql, checkout.order_id);
    assert.equal(early.status, "pending");
    assert.equal(early.paid, false);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 1);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), []);
    const waiting = (await eventRows(stack.sql)).find((r) => r.stripe_event_id === refunded.id);
    assert.equal(waiting?.status, "deferred");

    // ... and a redelivery of it changes nothing either.
    assert.deepEqual((await control.deliverEvent(refunded.id)).statuses, [200]);
    assert.equal((await orderState(stack.sql, checkout.order_id)).status, "pending");

    // The payment applies (paid_at, fulfilment queued), then the remembered refund.
    assert.deepEqual((await control.deliverEvent(completed.id)).statuses, [200]);
    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.paid, true);
    assert.equal(order.status, "refunded");
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), [
      "order.paid",
      "order.refunded",
    ]);
    const rows = await eventRows(stack.sql);
    assert.ok(rows.every((r) => r.status === "processed"), JSON.stringify(rows));
  },
);
