/**
 * Refund and dispute events through the signed webhook endpoint: refunds reconciled by
 * refund id (Dashboard refunds included), partial and full refunds, refunds that fail,
 * disputes opened and closed, and those events arriving before the payment.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { emulator, INTEGRATION } from "./checkout_helpers.ts";
import {
  chargeObject,
  createProduct,
  eventRows,
  orderState,
  outboxTopics,
  paidOrderInSql,
  runOps,
  sendEvent,
  uniqueStripeId,
} from "./webhook_helpers.ts";
import {
  disputeObject,
  disputeState,
  paymentsOpsReport,
  refundableAmount,
  refundObject,
  refundRows,
} from "./refund_helpers.ts";

Deno.test("refund and dispute events", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  await emulator(stack).setWebhooks({ auto: false });
  const product = await createProduct(stack.sql, 1000);

  await t.step(
    "Dashboard refunds appear by refund id; partial ones adding up to the total end refunded",
    async () => {
      const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
      const first = refundObject(uniqueStripeId("re"), paymentIntent, 500, "succeeded");
      const sent = await sendEvent(stack, "refund.created", first);
      assert.equal(sent.outcome, "processed");
      assert.equal(sent.row?.order_id, orderId);
      assert.equal((await orderState(stack.sql, orderId)).status, "partially_refunded");
      assert.equal(await refundableAmount(stack.sql, orderId), 1000);

      // Duplicates and the charge's view of the same refund change nothing.
      await sendEvent(stack, "refund.updated", first);
      await sendEvent(stack, "charge.refunded", {
        ...chargeObject(orderId, paymentIntent, 1500, 500),
        refunds: { object: "list", data: [first] },
      });
      assert.equal((await refundRows(stack.sql, orderId)).length, 1);

      const second = refundObject(uniqueStripeId("re"), paymentIntent, 1000, "succeeded");
      await sendEvent(stack, "refund.created", second);
      const order = await orderState(stack.sql, orderId);
      assert.equal(order.status, "refunded");
      assert.equal(await refundableAmount(stack.sql, orderId), 0);
      assert.deepEqual(await outboxTopics(stack.sql, orderId), [
        "order.paid",
        "order.partially_refunded",
        "order.refunded",
      ]);
      assert.deepEqual(
        (await refundRows(stack.sql, orderId)).map((r) => [r.amount, r.status, r.from_request])
          .sort(),
        [[1000, "succeeded", false], [500, "succeeded", false]],
      );
    },
  );

  await t.step(
    "a refund that fails later gives its amount back and queues refund.failed; the order stays",
    async () => {
      const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
      const id = uniqueStripeId("re");
      await sendEvent(stack, "refund.created", refundObject(id, paymentIntent, 1500, "succeeded"));
      assert.equal((await orderState(stack.sql, orderId)).status, "refunded");
      assert.equal(await refundableAmount(stack.sql, orderId), 0);

      const failed = await sendEvent(
        stack,
        "refund.failed",
        refundObject(id, paymentIntent, 1500, "failed", { failureReason: "lost_or_stolen_card" }),
      );
      assert.equal(failed.outcome, "processed");
      // A stale success after the failure does not revive it.
      await sendEvent(stack, "refund.updated", refundObject(id, paymentIntent, 1500, "succeeded"));
      const [row] = await refundRows(stack.sql, orderId);
      assert.equal(row?.status, "failed");
      assert.equal(await refundableAmount(stack.sql, orderId), 1500);
      assert.equal((await orderState(stack.sql, orderId)).status, "refunded");
      assert.deepEqual(await outboxTopics(stack.sql, orderId), [
        "order.paid",
        "order.refunded",
        "refund.failed",
      ]);
      const [message] = await stack.sql<{ payload: Record<string, unknown> }[]>`
        select payload from public.outbox where order_id = ${orderId} and topic = 'refund.failed'`;
      assert.equal(message?.payload.refund_id, id);
      assert.equal(message?.payload.failure_reason, "lost_or_stolen_card");
      const report = await paymentsOpsReport(stack.sql);
      const listed = report.failed_refunds.find((r) => r.stripe_refund_id === id);
      assert.equal(listed?.refundable, 1500);
    },
  );

  await t.step("a pending refund that fails never moves the order", async () => {
    const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
    const id = uniqueStripeId("re");
    await sendEvent(stack, "refund.created", refundObject(id, paymentIntent, 1500, "pending"));
    assert.equal((await orderState(stack.sql, orderId)).status, "paid");
    assert.equal(await refundableAmount(stack.sql, orderId), 0);
    await sendEvent(
      stack,
      "charge.refund.updated",
      refundObject(id, paymentIntent, 1500, "failed"),
    );
    assert.equal((await orderState(stack.sql, orderId)).status, "paid");
    assert.equal(await refundableAmount(stack.sql, orderId), 1500);
    assert.deepEqual(await outboxTopics(stack.sql, orderId), ["order.paid", "refund.failed"]);
  });

  await t.step("a charge's running total never lowers what the refunds rows show", async () => {
    const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
    const refund = refundObject(uniqueStripeId("re"), paymentIntent, 1500, "succeeded");
    await sendEvent(stack, "charge.refunded", {
      ...chargeObject(orderId, paymentIntent, 1500, 1500),
      refunds: { object: "list", data: [refund] },
    });
    assert.equal((await orderState(stack.sql, orderId)).status, "refunded");
    // An older charge.refunded that still says nothing was refunded.
    await sendEvent(stack, "charge.refunded", chargeObject(orderId, paymentIntent, 1500, 0));
    assert.equal((await orderState(stack.sql, orderId)).status, "refunded");
    assert.equal((await refundRows(stack.sql, orderId))[0]?.status, "succeeded");
  });

  await t.step(
    "a dispute flags the order, queues order.disputed, is listed, and records its loss",
    async () => {
      const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
      const id = uniqueStripeId("dp");
      const opened = await sendEvent(
        stack,
        "charge.dispute.created",
        disputeObject(id, paymentIntent, 1500, "needs_response"),
      );
      assert.equal(opened.outcome, "processed");
      assert.deepEqual(await disputeState(stack.sql, orderId), {
        dispute_id: id,
        dispute_reason: "fraudulent",
        dispute_status: "needs_response",
        dispute_outcome: null,
      });
      assert.equal((await orderState(stack.sql, orderId)).status, "paid");
      assert.deepEqual(await outboxTopics(stack.sql, orderId), ["order.paid", "order.disputed"]);
      let report = await paymentsOpsReport(stack.sql);
      assert.equal(report.disputed_orders.find((d) => d.order_id === orderId)?.dispute_id, id);

      await sendEvent(
        stack,
        "charge.dispute.closed",
        disputeObject(id, paymentIntent, 1500, "lost"),
      );
      assert.deepEqual(await disputeState(stack.sql, orderId), {
        dispute_id: id,
        dispute_reason: "fraudulent",
        dispute_status: "lost",
        dispute_outcome: "lost",
      });
      assert.equal((await orderState(stack.sql, orderId)).status, "paid");
      assert.deepEqual(await outboxTopics(stack.sql, orderId), [
        "order.paid",
        "order.disputed",
        "order.dispute_lost",
      ]);
      report = await paymentsOpsReport(stack.sql);
      assert.equal(
        report.disputed_orders.find((d) => d.order_id === orderId)?.dispute_outcome,
        "lost",
      );

      // The operator task lists the dispute (and the failed refunds of earlier steps).
      const ops = await runOps(stack);
      assert.equal(ops.code, 1, ops.stderr);
      assert.match(ops.stdout, new RegExp(`${orderId} +paid +${id} +fraudulent +lost`));
      assert.match(ops.stdout, /Refunds that failed \(last 30 days; [^)]*\): 2\n/);
    },
  );

  await t.step("a dispute closed before it was opened ends the same", async () => {
    const { orderId, paymentIntent } = await paidOrderInSql(stack, product, 1500);
    const id = uniqueStripeId("dp");
    await sendEvent(stack, "charge.dispute.closed", disputeObject(id, paymentIntent, 1500, "won"));
    await sendEvent(
      stack,
      "charge.dispute.created",
      disputeObject(id, paymentIntent, 1500, "needs_response"),
    );
    assert.deepEqual(await disputeState(stack.sql, orderId), {
      dispute_id: id,
      dispute_reason: "fraudulent",
      dispute_status: "won",
      dispute_outcome: "won",
    });
    assert.deepEqual((await outboxTopics(stack.sql, orderId)).sort(), [
      "order.dispute_won",
      "order.disputed",
      "order.paid",
    ]);
  });

  await t.step(
    "a Dashboard refund and a dispute arriving before the payment wait for it, then apply",
    async () => {
      const { orderId, paymentIntent, completed } = await paidOrderInSql(
        stack,
        product,
        1500,
        false,
      );
      const refund = await sendEvent(
        stack,
        "refund.created",
        refundObject(uniqueStripeId("re"), paymentIntent, 400, "succeeded"),
      );
      const dispute = await sendEvent(
        stack,
        "charge.dispute.created",
        disputeObject(uniqueStripeId("dp"), paymentIntent, 1100, "needs_response"),
      );
      for (const early of [refund, dispute]) {
        assert.equal(early.outcome, "processed");
        assert.equal(early.row?.status, "deferred");
        assert.equal(early.row?.order_id, null);
      }
      assert.equal((await orderState(stack.sql, orderId)).status, "pending");

      await sendEvent(stack, "checkout.session.completed", completed);
      const order = await orderState(stack.sql, orderId);
      assert.equal(order.status, "partially_refunded");
      assert.equal((await disputeState(stack.sql, orderId)).dispute_status, "needs_response");
      const rows = (await eventRows(stack.sql)).filter((r) => r.order_id === orderId);
      assert.ok(rows.every((r) => r.status === "processed"), JSON.stringify(rows));
      assert.deepEqual(await outboxTopics(stack.sql, orderId), [
        "order.paid",
        "order.partially_refunded",
        "order.disputed",
      ]);
    },
  );

  await t.step("refunds of payments that are not ours are ignored", async () => {
    const sent = await sendEvent(stack, "charge.refunded", {
      ...chargeObject(crypto.randomUUID(), uniqueStripeId("pi_other"), 1500, 1500),
    });
    assert.equal(sent.outcome, "ignored");
  });

  await t.step("anon and authenticated cannot read or write refunds", async () => {
    for (const role of ["anon", "authenticated"]) {
      await assert.rejects(
        stack.sql.begin(async (tx) => {
          await tx.unsafe(`set local role ${role}`);
          await tx.unsafe(`select count(*) from public.refunds`);
        }),
        /permission denied/,
      );
    }
  });
});
