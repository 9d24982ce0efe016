/**
 * One fact, one review: a payment the order cannot take (here, another amount than the
 * order's) reaches the database through the webhook and through every checkout-status poll
 * of the landing page (the order stays pending, so each poll applies the session again).
 * However often it arrives, the order is flagged once: one order.needs_review message and
 * its reason recorded once.
 */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import {
  createOrderInSql,
  createProduct,
  orderState,
  sessionObject,
  stripeEvent,
} from "./webhook_helpers.ts";

Deno.test(
  "a payment flagged for review is flagged once, however often it is applied",
  INTEGRATION,
  async () => {
    const db = await createTestDatabase();
    const sql = postgres(db.url, { max: 4, onnotice: () => {} });
    try {
      const product = await createProduct(sql, 1000);
      const sessionId = "cs_test_review_once";
      const { orderId } = await createOrderInSql(sql, product, { sessionId });
      const session = sessionObject(orderId, sessionId, {
        status: "complete",
        payment_status: "paid",
        amount_total: 900,
        amount_subtotal: 900,
        payment_intent: "pi_review_once",
      });
      const event = stripeEvent("checkout.session.completed", session);
      const [applied] = await sql<{ outcome: string }[]>`
        select outcome from public.apply_stripe_event(${
        sql.json(event as unknown as postgres.JSONValue)
      })`;
      assert.equal(applied?.outcome, "processed");
      // The landing page polls: each look-up applies the same complete session.
      for (let i = 0; i < 3; i++) {
        const [status] = await sql<{ outcome: string; status: string }[]>`
          select outcome, status from public.apply_checkout_session_status(${
          sql.json(session as postgres.JSONValue)
        })`;
        assert.deepEqual({ ...status }, { outcome: "applied", status: "pending" });
      }

      const state = await orderState(sql, orderId);
      assert.equal(state.status, "pending");
      assert.equal(state.needs_review, true);
      const messages = await sql<{ topic: string }[]>`
        select topic from public.outbox where order_id = ${orderId} order by id`;
      assert.deepEqual(messages.map((m) => m.topic), ["order.needs_review"]);
      const [order] = await sql<{ review_reason: string }[]>`
        select review_reason from public.orders where id = ${orderId}`;
      assert.equal(
        order?.review_reason.split("; ").length,
        1,
        `the reason once: ${order?.review_reason}`,
      );
    } finally {
      await sql.end();
      await db.drop();
    }
  },
);
