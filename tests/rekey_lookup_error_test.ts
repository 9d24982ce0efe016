/**
 * After a re-key, a checkout or refund first reads what Stripe may have made under the key it
 * gave up (the sessions since the operation began; the payment intent's refunds). Stripe
 * refusing that read (a 4xx) is not Stripe refusing the operation: the order or refund must
 * not fail for it (a failed refund would let the client refund again with a new key while
 * Stripe holds the one made under the old key), only be retried.
 */
import assert from "node:assert/strict";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  BEANS,
  callCheckout,
  emulator,
  INTEGRATION,
  rekeyedCheckout,
  waitUntil,
} from "./checkout_helpers.ts";
import { guestCheckout, orderState, submitHostedPage } from "./webhook_helpers.ts";
import { callRefund, errorCode } from "./refund_helpers.ts";

async function paidOrder(stack: TestStack) {
  const checkout = await guestCheckout(stack, [{ product_id: BEANS, quantity: 2 }]);
  await submitHostedPage(checkout.checkout_url, "pay");
  await emulator(stack).waitForDeliveries();
  await waitUntil(
    "the order is paid",
    async () => (await orderState(stack.sql, checkout.order_id)).status === "paid",
  );
  return checkout;
}

Deno.test(
  "a 4xx from a re-keyed operation's look-up is retried, never a terminal failure",
  INTEGRATION,
  async (t) => {
    // No SDK retries: each of our calls is one call to Stripe.
    await using stack = await startTestStack({
      functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0" },
    });
    const control = emulator(stack);

    await t.step("checkout: the sessions look-up", async () => {
      // 1: Stripe makes the session and answers 500; 2: the key replays it (re-keyed).
      const { key, body } = await rekeyedCheckout(stack);
      await control.addFault({ route: "GET /v1/checkout/sessions", mode: "before", status: 400 });
      const refused = await callCheckout(stack, "guest-checkout", { key, body });
      assert.equal(refused.status, 503, refused.text);
      const [order] = await stack.sql<{ status: string }[]>`
        select status from public.orders where idempotency_key = ${key}`;
      assert.equal(order?.status, "pending");
      // The next attempt's look-up finds the session Stripe made under the first key.
      const answer = await callCheckout(stack, "guest-checkout", { key, body });
      assert.equal(answer.status, 201, answer.text);
      await control.clearFaults();
    });

    await t.step("refund: the payment intent's refunds", async () => {
      const order = await paidOrder(stack);
      await control.addFault({
        route: "POST /v1/refunds",
        mode: "saved_500",
        effect: true,
        times: 1,
      });
      // Held, so that the refund's webhook does not tell the database of it first.
      await control.stopWebhooks("hold");
      const key = crypto.randomUUID();
      const body = { order_id: order.order_id, amount: 300 };
      for (let i = 0; i < 2; i++) {
        assert.equal((await callRefund(stack, { key, body })).status, 503);
      }
      await control.addFault({ route: "GET /v1/refunds", mode: "before", status: 400 });
      const refused = await callRefund(stack, { key, body });
      assert.equal(refused.status, 503, refused.text);
      assert.equal(errorCode(refused), "stripe_unavailable");
      const answer = await callRefund(stack, { key, body });
      assert.equal(answer.status, 201, answer.text);
      assert.equal((await control.counters()).created.refund, 1, "one Stripe refund");
      await control.clearFaults();
      await control.resumeWebhooks();
    });
  },
);
