/**
 * refund-order end to end: real HTTP through the gateway, the real function, real
 * Postgres and the emulator's refunds, disputes and webhooks.
 */
import assert from "node:assert/strict";
import { startTestStack, type TestStack } from "./harness.ts";
import { BEANS, emulator, INTEGRATION, stripeOf } from "./checkout_helpers.ts";
import { guestCheckout, orderState, outboxTopics } from "./webhook_helpers.ts";
import {
  callRefund,
  disputeState,
  errorCode,
  paidOrder,
  paymentsOpsReport,
  refundableAmount,
  refundRows,
} from "./refund_helpers.ts";

async function refundsCreated(stack: TestStack): Promise<number> {
  return (await emulator(stack).counters()).created.refund;
}

async function settled(stack: TestStack): Promise<void> {
  await emulator(stack).waitForDeliveries();
}

Deno.test("refund-order", INTEGRATION, async (t) => {
  // The SDK's own retries are off so that a lost answer reaches our code, whose retry
  // must then get Stripe's replay.
  await using stack = await startTestStack({ functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0" } });
  const control = emulator(stack);
  const stripe = stripeOf(stack);

  await t.step("40 concurrent identical requests make one Stripe refund", async () => {
    const order = await paidOrder(stack);
    const before = await refundsCreated(stack);
    const key = crypto.randomUUID();
    const body = { order_id: order.order_id, reason: "requested_by_customer" };
    const answers = await Promise.all(
      Array.from({ length: 40 }, () => callRefund(stack, { key, body })),
    );
    const statuses = answers.map((a) => a.status);
    assert.ok(statuses.every((s) => [201, 200, 409].includes(s)), JSON.stringify(statuses));
    assert.equal(statuses.filter((s) => s === 201).length, 1, JSON.stringify(statuses));
    for (const busy of answers.filter((a) => a.status === 409)) {
      assert.equal(errorCode(busy), "idempotency_key_in_use");
      assert.match(busy.headers.get("retry-after") ?? "", /^\d+$/);
    }
    assert.equal(await refundsCreated(stack), before + 1);

    const created = answers.find((a) => a.status === 201);
    assert.deepEqual(Object.keys(created?.json ?? {}).sort(), [
      "amount",
      "currency",
      "order_id",
      "order_status",
      "refund_id",
      "status",
    ]);
    assert.equal(created?.json.amount, order.amount_total);
    assert.equal(created?.json.currency, "usd");
    assert.equal(created?.json.status, "succeeded");
    assert.equal(created?.json.order_status, "refunded");
    assert.match(String(created?.json.refund_id), /^re_/);

    // A retry gets the same answer, replayed.
    const replay = await callRefund(stack, { key, body });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(replay.json, created?.json);

    // The same key with another amount is another request.
    const other = await callRefund(stack, { key, body: { ...body, amount: 1 } });
    assert.equal(other.status, 422, other.text);
    assert.equal(errorCode(other), "idempotency_key_reused");

    const refund = await stripe.refunds.retrieve(String(created?.json.refund_id));
    assert.equal(refund.metadata?.order_id, order.order_id);
    await settled(stack);
    assert.equal((await orderState(stack.sql, order.order_id)).status, "refunded");
    assert.equal((await refundRows(stack.sql, order.order_id)).length, 1);
  });

  for (const mode of ["after", "drop_after"] as const) {
    await t.step(
      `a refund made but its answer lost (${mode}) comes back on retry, still one refund`,
      async () => {
        const order = await paidOrder(stack);
        // Webhooks wait, so the retry learns the refund from Stripe's replay alone.
        await control.stopWebhooks("hold");
        try {
          const before = await refundsCreated(stack);
          const replays = (await control.counters()).idempotent_replays;
          await control.addFault({ route: "POST /v1/refunds", mode, status: 502, times: 1 });
          const key = crypto.randomUUID();
          const body = { order_id: order.order_id, amount: 300 };
          const first = await callRefund(stack, { key, body });
          assert.equal(first.status, 503, first.text);
          assert.equal(errorCode(first), "stripe_unavailable");
          assert.equal(await refundsCreated(stack), before + 1, "Stripe did make it");
          // The amount stays reserved while the answer is unknown.
          assert.equal(await refundableAmount(stack.sql, order.order_id), order.amount_total - 300);

          const retry = await callRefund(stack, { key, body });
          assert.equal(retry.status, 201, retry.text);
          assert.equal(await refundsCreated(stack), before + 1, "and the retry made no other");
          assert.ok((await control.counters()).idempotent_replays > replays, "Stripe replayed");
          assert.equal(retry.json.order_status, "partially_refunded");
          const rows = await refundRows(stack.sql, order.order_id);
          assert.deepEqual(rows.map((r) => [r.stripe_refund_id, r.amount, r.status]), [
            [retry.json.refund_id, 300, "succeeded"],
          ]);
        } finally {
          await control.resumeWebhooks();
          await control.clearFaults();
        }
        await settled(stack);
        assert.equal((await refundRows(stack.sql, order.order_id)).length, 1);
      },
    );
  }

  await t.step(
    "two keys racing for more than was paid: one refund, the other 422 refund_exceeds_payment",
    async () => {
      const order = await paidOrder(stack);
      const amount = Math.ceil(order.amount_total * 0.75);
      const [a, b] = await Promise.all([
        callRefund(stack, { body: { order_id: order.order_id, amount } }),
        callRefund(stack, { body: { order_id: order.order_id, amount } }),
      ]);
      const statuses = [a?.status, b?.status].sort();
      assert.deepEqual(statuses, [201, 422], `${a?.text} ${b?.text}`);
      const refused = [a, b].find((x) => x?.status === 422);
      assert.equal(refused && errorCode(refused), "refund_exceeds_payment");
      assert.deepEqual((refused?.json.error as { details: unknown }).details, {
        order_id: order.order_id,
        requested: amount,
        refundable: order.amount_total - amount,
        amount_paid: order.amount_total,
        currency: "usd",
      });
      await settled(stack);
      assert.equal((await refundRows(stack.sql, order.order_id)).length, 1);
    },
  );

  await t.step("partial refunds adding up to the total end refunded", async () => {
    const order = await paidOrder(stack, 3);
    const third = order.amount_total / 3;
    const answers = [];
    for (let i = 0; i < 3; i++) {
      answers.push(
        await callRefund(stack, { body: { order_id: order.order_id, amount: third } }),
      );
    }
    assert.deepEqual(answers.map((a) => a.status), [201, 201, 201]);
    assert.deepEqual(answers.map((a) => a.json.order_status), [
      "partially_refunded",
      "partially_refunded",
      "refunded",
    ]);
    const more = await callRefund(stack, { body: { order_id: order.order_id, amount: 1 } });
    assert.equal(more.status, 422, more.text);
    assert.equal(errorCode(more), "refund_exceeds_payment");
    await settled(stack);
    assert.equal((await orderState(stack.sql, order.order_id)).status, "refunded");
    assert.deepEqual(await outboxTopics(stack.sql, order.order_id), [
      "order.paid",
      "order.partially_refunded",
      "order.refunded",
    ]);
  });

  await t.step(
    "a refund failing later makes its amount refundable again and queues refund.failed",
    async () => {
      const order = await paidOrder(stack);
      const first = await callRefund(stack, { body: { order_id: order.order_id } });
      assert.equal(first.status, 201, first.text);
      await settled(stack);
      assert.equal(await refundableAmount(stack.sql, order.order_id), 0);

      await control.failRefund(String(first.json.refund_id), "expired_or_canceled_card");
      await settled(stack);
      const [row] = await refundRows(stack.sql, order.order_id);
      assert.equal(row?.status, "failed");
      assert.equal(await refundableAmount(stack.sql, order.order_id), order.amount_total);
      assert.ok((await outboxTopics(stack.sql, order.order_id)).includes("refund.failed"));
      const report = await paymentsOpsReport(stack.sql);
      assert.ok(report.failed_refunds.some((r) => r.stripe_refund_id === first.json.refund_id));

      const again = await callRefund(stack, { body: { order_id: order.order_id } });
      assert.equal(again.status, 201, again.text);
      assert.equal(again.json.amount, order.amount_total);
      assert.notEqual(again.json.refund_id, first.json.refund_id);
    },
  );

  await t.step("a Dashboard refund appears as a row and moves the order", async () => {
    const order = await paidOrder(stack);
    const intent = await stripe.paymentIntents.retrieve(order.payment_intent_id);
    const refund = await control.refundCharge(String(intent.latest_charge), { amount: 250 });
    await settled(stack);
    const rows = await refundRows(stack.sql, order.order_id);
    assert.deepEqual(rows.map((r) => [r.stripe_refund_id, r.amount, r.status, r.from_request]), [
      [refund.id, 250, "succeeded", false],
    ]);
    assert.equal((await orderState(stack.sql, order.order_id)).status, "partially_refunded");
    assert.equal(await refundableAmount(stack.sql, order.order_id), order.amount_total - 250);

    // What is left can still be refunded through the API, and no more.
    const rest = await callRefund(stack, { body: { order_id: order.order_id } });
    assert.equal(rest.status, 201, rest.text);
    assert.equal(rest.json.amount, order.amount_total - 250);
    assert.equal(rest.json.order_status, "refunded");
  });

  await t.step(
    "a dispute flags the order and is listed; Stripe's refusal to refund it is stored",
    async () => {
      const order = await paidOrder(stack);
      const dispute = await control.openDispute(order.checkout_session_id, {
        reason: "product_not_received",
      });
      await settled(stack);
      assert.deepEqual(await disputeState(stack.sql, order.order_id), {
        dispute_id: dispute.id,
        dispute_reason: "product_not_received",
        dispute_status: "needs_response",
        dispute_outcome: null,
      });
      assert.equal((await orderState(stack.sql, order.order_id)).status, "paid");
      assert.ok((await outboxTopics(stack.sql, order.order_id)).includes("order.disputed"));
      const listed = (await paymentsOpsReport(stack.sql)).disputed_orders;
      assert.ok(listed.some((d) => d.dispute_id === dispute.id));

      // Stripe refuses to refund a disputed charge: a terminal answer, stored and replayed.
      const key = crypto.randomUUID();
      const body = { order_id: order.order_id };
      const refused = await callRefund(stack, { key, body });
      assert.equal(refused.status, 502, refused.text);
      assert.deepEqual((refused.json.error as { details: unknown }).details, {
        stripe_code: "charge_disputed",
      });
      // The one message serves checkouts and refunds: it must not speak of a checkout here.
      assert.doesNotMatch((refused.json.error as { message: string }).message, /checkout/i);
      const replay = await callRefund(stack, { key, body });
      assert.equal(replay.status, 502);
      assert.equal(replay.headers.get("idempotent-replayed"), "true");
      assert.equal(await refundableAmount(stack.sql, order.order_id), order.amount_total);

      await control.closeDispute(dispute.id, "lost");
      await settled(stack);
      assert.equal((await disputeState(stack.sql, order.order_id)).dispute_outcome, "lost");
      assert.ok((await outboxTopics(stack.sql, order.order_id)).includes("order.dispute_lost"));
      assert.equal((await orderState(stack.sql, order.order_id)).status, "paid");
    },
  );

  await t.step(
    "through the gateway: sb_secret_ or service_role key accepted, publishable or anon key 401; unknown order 404; unpaid order 409",
    async () => {
      const before = await refundsCreated(stack);
      const pending = await guestCheckout(stack, [{ product_id: BEANS, quantity: 1 }]);
      const cases: [string, Parameters<typeof callRefund>[1], number, string][] = [
        ["no key", { apikey: null, body: { order_id: pending.order_id } }, 401, "unauthorized"],
        [
          "the anon key",
          { apikey: stack.anonKey, body: { order_id: pending.order_id } },
          401,
          "unauthorized",
        ],
        [
          "the publishable key",
          { apikey: stack.publishableKey, body: { order_id: pending.order_id } },
          401,
          "unauthorized",
        ],
        [
          "the sb_secret_ key",
          { apikey: stack.secretKey, body: { order_id: pending.order_id } },
          409,
          "order_not_refundable",
        ],
        [
          "the sb_secret_ key as a Bearer token",
          {
            apikey: stack.publishableKey,
            authorization: `Bearer ${stack.secretKey}`,
            body: { order_id: pending.order_id },
          },
          409,
          "order_not_refundable",
        ],
        ["an unknown order", { body: { order_id: crypto.randomUUID() } }, 404, "order_not_found"],
        ["an unpaid order", { body: { order_id: pending.order_id } }, 409, "order_not_refundable"],
      ];
      for (const [what, call, status, code] of cases) {
        const answer = await callRefund(stack, call);
        assert.equal(answer.status, status, `${what}: ${answer.text}`);
        assert.equal(errorCode(answer), code, what);
      }
      assert.equal(await refundsCreated(stack), before);
    },
  );
});
