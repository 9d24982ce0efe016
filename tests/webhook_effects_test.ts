/** What each event does to its order: matching, review flags, ignored events, the state machine. */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { emulator, INTEGRATION, stockOfProduct } from "./checkout_helpers.ts";
import {
  createOrderInSql,
  createProduct,
  orderState,
  outboxTopics,
  sendEvent,
  sessionObject,
} from "./webhook_helpers.ts";

function newSessionId(): string {
  return `cs_test_${crypto.randomUUID().replaceAll("-", "")}`;
}

Deno.test("what each event does to its order", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  await emulator(stack).setWebhooks({ auto: false });
  const product = await createProduct(stack.sql, 100);

  await t.step(
    "a payment whose amount differs flags the order for review instead of paying it",
    async () => {
      const sessionId = newSessionId();
      const { orderId, amount } = await createOrderInSql(stack.sql, product, { sessionId });
      const sent = await sendEvent(
        stack,
        "checkout.session.completed",
        sessionObject(orderId, sessionId, { amount_total: amount - 1, payment_status: "paid" }),
      );
      assert.equal(sent.outcome, "processed");
      const order = await orderState(stack.sql, orderId);
      assert.equal(order.status, "pending");
      assert.equal(order.paid, false);
      assert.equal(order.needs_review, true);
      assert.match(order.review_reason ?? "", new RegExp(`Stripe says ${amount - 1} usd`));
      assert.deepEqual(await outboxTopics(stack.sql, orderId), ["order.needs_review"]);
    },
  );

  await t.step("a payment in another currency flags the order for review", async () => {
    const sessionId = newSessionId();
    const { orderId, amount } = await createOrderInSql(stack.sql, product, { sessionId });
    await sendEvent(
      stack,
      "checkout.session.async_payment_succeeded",
      sessionObject(orderId, sessionId, {
        amount_total: amount,
        currency: "eur",
        payment_status: "paid",
      }),
    );
    const order = await orderState(stack.sql, orderId);
    assert.equal(order.status, "pending");
    assert.equal(order.needs_review, true);
  });

  await t.step(
    "the session id is recorded when the checkout crashed before recording it",
    async () => {
      const { orderId, amount } = await createOrderInSql(stack.sql, product, { sessionId: null });
      const sessionId = newSessionId();
      const sent = await sendEvent(
        stack,
        "checkout.session.completed",
        sessionObject(orderId, sessionId, {
          amount_total: amount,
          payment_status: "paid",
          payment_intent: "pi_crash",
        }),
      );
      assert.equal(sent.outcome, "processed");
      const order = await orderState(stack.sql, orderId);
      assert.equal(order.status, "paid");
      assert.equal(order.checkout_session_id, sessionId);
      assert.equal(order.payment_intent_id, "pi_crash");
    },
  );

  await t.step("unknown event types and unknown orders are ignored but stored", async () => {
    const unknownType = await sendEvent(stack, "customer.created", {
      id: "cus_1",
      object: "customer",
    });
    assert.equal(unknownType.outcome, "ignored");
    assert.equal(unknownType.row?.status, "ignored");

    const ghost = crypto.randomUUID();
    const unknownOrder = await sendEvent(
      stack,
      "checkout.session.completed",
      sessionObject(ghost, newSessionId(), { amount_total: 1000, payment_status: "paid" }),
    );
    assert.equal(unknownOrder.outcome, "ignored");
    assert.equal(unknownOrder.row?.status, "ignored");
    assert.match(unknownOrder.row?.result ?? "", new RegExp(`no order ${ghost}`));
  });

  await t.step(
    "another session of the order expiring leaves the order and its stock alone",
    async () => {
      const sessionId = newSessionId();
      const before = await stockOfProduct(stack.sql, product);
      const { orderId } = await createOrderInSql(stack.sql, product, { sessionId });
      const sent = await sendEvent(
        stack,
        "checkout.session.expired",
        sessionObject(orderId, newSessionId(), { status: "expired", payment_status: "unpaid" }),
      );
      assert.equal(sent.outcome, "ignored");
      const order = await orderState(stack.sql, orderId);
      assert.equal(order.status, "pending");
      assert.equal(order.stock_released, false);
      assert.equal(await stockOfProduct(stack.sql, product), (before ?? 0) - 1);
    },
  );

  await t.step("a second payment through another session flags the paid order", async () => {
    const sessionId = newSessionId();
    const { orderId, amount } = await createOrderInSql(stack.sql, product, { sessionId });
    const paid = { amount_total: amount, payment_status: "paid" };
    await sendEvent(
      stack,
      "checkout.session.completed",
      sessionObject(orderId, sessionId, { ...paid, payment_intent: "pi_first" }),
    );
    await sendEvent(
      stack,
      "checkout.session.completed",
      sessionObject(orderId, newSessionId(), { ...paid, payment_intent: "pi_second" }),
    );
    const order = await orderState(stack.sql, orderId);
    assert.equal(order.status, "paid");
    assert.equal(order.payment_intent_id, "pi_first");
    assert.equal(order.needs_review, true);
    assert.match(order.review_reason ?? "", /second payment/);
    assert.deepEqual(await outboxTopics(stack.sql, orderId), ["order.paid", "order.needs_review"]);
  });

  await t.step(
    "a payment for an expired order is flagged, not paid, and stock stays released",
    async () => {
      const sessionId = newSessionId();
      const before = await stockOfProduct(stack.sql, product);
      const { orderId, amount } = await createOrderInSql(stack.sql, product, { sessionId });
      await sendEvent(
        stack,
        "checkout.session.expired",
        sessionObject(orderId, sessionId, { status: "expired", payment_status: "unpaid" }),
      );
      assert.equal(await stockOfProduct(stack.sql, product), before);
      await sendEvent(
        stack,
        "checkout.session.completed",
        sessionObject(orderId, sessionId, { amount_total: amount, payment_status: "paid" }),
      );
      const order = await orderState(stack.sql, orderId);
      assert.equal(order.status, "expired");
      assert.equal(order.needs_review, true);
      assert.equal(await stockOfProduct(stack.sql, product), before);
    },
  );

  await t.step("the database itself refuses to move an order backwards", async () => {
    const sessionId = newSessionId();
    const { orderId, amount } = await createOrderInSql(stack.sql, product, { sessionId });
    await sendEvent(
      stack,
      "checkout.session.completed",
      sessionObject(orderId, sessionId, { amount_total: amount, payment_status: "paid" }),
    );
    await assert.rejects(
      stack.sql`update public.orders set status = 'pending' where id = ${orderId}`,
      (error: { code?: string; message?: string }) =>
        error.code === "23514" && /cannot move from paid to pending/.test(error.message ?? ""),
    );
  });

  await t.step(
    "anon and authenticated cannot read or write the webhook and outbox tables",
    async () => {
      for (const role of ["anon", "authenticated"]) {
        for (const table of ["stripe_webhook_events", "outbox", "order_status_transitions"]) {
          await assert.rejects(
            stack.sql.begin(async (tx) => {
              await tx.unsafe(`set local role ${role}`);
              await tx.unsafe(`select count(*) from public.${table}`);
            }),
            /permission denied/,
            `${role} read ${table}`,
          );
        }
        await assert.rejects(
          stack.sql.begin(async (tx) => {
            await tx.unsafe(`set local role ${role}`);
            await tx.unsafe(`select public.apply_stripe_event('{}'::jsonb)`);
          }),
          /permission denied/,
        );
      }
    },
  );
});
