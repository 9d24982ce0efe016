/**
 * Stripe forgets an idempotency key after 24 hours. A refund whose answer was lost and
 * whose webhooks never came must not be made a second time by a retry a day later: the
 * resumed request looks its refund up at Stripe before it creates one.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { BEANS, emulator, INTEGRATION, waitUntil } from "./checkout_helpers.ts";
import { guestCheckout, orderState, submitHostedPage } from "./webhook_helpers.ts";
import { callRefund, refundRows } from "./refund_helpers.ts";

Deno.test(
  "a refund retried after Stripe forgot its key is not made twice",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({ functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0" } });
    const control = emulator(stack);
    const checkout = await guestCheckout(stack, [{ product_id: BEANS, quantity: 2 }]);
    await submitHostedPage(checkout.checkout_url, "pay");
    await control.waitForDeliveries();
    await waitUntil(
      "the order is paid",
      async () => (await orderState(stack.sql, checkout.order_id)).status === "paid",
    );

    await control.stopWebhooks("hold");
    const key = crypto.randomUUID();
    const body = { order_id: checkout.order_id, amount: 300 };
    try {
      await control.addFault({ route: "POST /v1/refunds", mode: "after", status: 502, times: 1 });
      const first = await callRefund(stack, { key, body });
      assert.equal(first.status, 503, first.text);
      assert.equal((await control.counters()).created.refund, 1, "Stripe made the refund");

      // A day and more later: Stripe has pruned the key, and the request is that old.
      await control.advanceClock(25 * 3600);
      await stack.sql`
      update public.refunds set created_at = created_at - interval '25 hours'
      where order_id = ${checkout.order_id}`;
      const retry = await callRefund(stack, { key, body });
      assert.equal(retry.status, 201, retry.text);
      assert.equal((await control.counters()).created.refund, 1, "the retry made no other");
      assert.equal(retry.json.amount, 300);
    } finally {
      await control.clearFaults();
      await control.resumeWebhooks();
    }
    await control.waitForDeliveries();
    const rows = await refundRows(stack.sql, checkout.order_id);
    assert.deepEqual(rows.map((r) => [r.amount, r.status]), [[300, "succeeded"]]);
  },
);
