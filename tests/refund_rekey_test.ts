/**
 * refund-order when Stripe saved a 500 under the refund's key after making the refund (the
 * emulator's `saved_500` with `effect: true`; real Stripe may answer 500 for a request that
 * had begun executing). The key then replays that 500 forever, so the runner mints a new
 * one; the retry under it must find the refund Stripe already made for this request rather
 * than make a second one.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { emulator, INTEGRATION, stripeOf } from "./checkout_helpers.ts";
import { orderState } from "./webhook_helpers.ts";
import { callRefund, errorCode, paidOrder, refundRows } from "./refund_helpers.ts";

Deno.test(
  "a refund Stripe made under a key it then saved a 500 for is found, not made again",
  INTEGRATION,
  async (t) => {
    // No SDK retries: each of our calls is one call to Stripe.
    await using stack = await startTestStack({
      functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0" },
    });
    const control = emulator(stack);
    const stripe = stripeOf(stack);

    for (const webhooks of ["held", "delivered"] as const) {
      await t.step(`webhooks ${webhooks} meanwhile`, async () => {
        const order = await paidOrder(stack, 2);
        const before = (await control.counters()).created.refund;
        const amount = 300;
        if (webhooks === "held") await control.stopWebhooks("hold");
        try {
          await control.addFault({
            route: "POST /v1/refunds",
            mode: "saved_500",
            effect: true,
            times: 1,
          });
          const key = crypto.randomUUID();
          const body = { order_id: order.order_id, amount };

          // 1: Stripe makes the refund and answers 500; 2: the same key replays that 500
          // (the operation is re-keyed); 3 and on: under the new key.
          const answers = [];
          for (let i = 0; i < 4; i++) {
            const answer = await callRefund(stack, { key, body });
            answers.push(answer);
            if (answer.status < 500 || answer.status === 502) break;
            assert.equal(answer.status, 503, answer.text);
            assert.equal(errorCode(answer), "stripe_unavailable");
          }
          const last = answers.at(-1);
          assert.ok(last && (last.status === 201 || last.status === 200), last?.text);
          assert.equal(
            (await control.counters()).created.refund,
            before + 1,
            "one Stripe refund for one request key",
          );
          const made = await stripe.refunds.list({ payment_intent: order.payment_intent_id });
          assert.deepEqual(made.data.map((r) => [r.amount, r.metadata?.order_id]), [
            [amount, order.order_id],
          ]);
          assert.equal(last.json.refund_id, made.data[0]?.id);
          assert.equal(last.json.amount, amount);
          assert.equal(last.json.order_status, "partially_refunded");
        } finally {
          await control.clearFaults();
          await control.resumeWebhooks();
        }
        await control.waitForDeliveries();
        const rows = await refundRows(stack.sql, order.order_id);
        assert.deepEqual(rows.map((r) => [r.amount, r.status, r.from_request]), [
          [amount, "succeeded", true],
        ]);
        assert.equal((await orderState(stack.sql, order.order_id)).status, "partially_refunded");
      });
    }
  },
);
