/**
 * checkout-status in SQL: the order by its session, the look-up throttle, and a session
 * from Stripe applied through the webhook's own transition (racing the webhook itself).
 */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import {
  createOrderInSql,
  createProduct,
  orderState,
  outboxTopics,
  sessionObject,
  stripeEvent,
} from "./webhook_helpers.ts";

Deno.test("checkout status in SQL", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 20, onnotice: () => {} });
  try {
    const product = await createProduct(sql, 1000);
    const byId = async (sessionId: string, throttle = 5) => {
      const [row] = await sql`
        select * from public.checkout_status_by_session(${sessionId}, ${throttle})`;
      return { ...row };
    };
    const apply = async (session: Record<string, unknown>) => {
      const [row] = await sql`select * from public.apply_checkout_session_status(${
        sql.json(session as postgres.JSONValue)
      })`;
      return { ...row };
    };

    await t.step("an unknown session is unknown", async () => {
      const answer = await byId("cs_test_nobody");
      assert.equal(answer.outcome, "unknown");
      assert.equal(answer.order_id, null);
      assert.equal(
        (await apply({ id: "cs_test_nobody", object: "checkout.session" })).outcome,
        "unknown",
      );
    });

    await t.step("one Stripe look-up per session within the throttle", async () => {
      const { orderId } = await createOrderInSql(sql, product, { sessionId: "cs_test_throttle" });
      const first = await byId("cs_test_throttle");
      assert.deepEqual(first, {
        outcome: "lookup",
        order_id: orderId,
        status: "pending",
        amount_total: 1000,
        currency: "usd",
        checkout_session_id: "cs_test_throttle",
      });
      const parallel = await Promise.all(
        Array.from({ length: 10 }, () => byId("cs_test_throttle")),
      );
      assert.deepEqual(parallel.map((a) => a.outcome), Array(10).fill("cached"));
      await sql`update public.orders set status_checked_at = now() - interval '6 seconds'`;
      const [again, ...rest] = await Promise.all(
        Array.from({ length: 5 }, () => byId("cs_test_throttle")),
      ).then((all) => all.map((a) => a.outcome).sort());
      assert.deepEqual([again, ...rest], ["cached", "cached", "cached", "cached", "lookup"]);
    });

    await t.step("a paid session pays the order once; a final order needs no look-up", async () => {
      const { orderId } = await createOrderInSql(sql, product, { sessionId: "cs_test_paid" });
      const session = sessionObject(orderId, "cs_test_paid", {
        status: "complete",
        payment_status: "paid",
        amount_total: 1000,
        payment_intent: "pi_test_paid",
      });
      assert.equal(
        (await apply({ ...session, status: "open", payment_status: "unpaid" })).status,
        "pending",
        "an open session changes nothing",
      );
      const answer = await apply(session);
      assert.equal(answer.outcome, "applied");
      assert.equal(answer.status, "paid");
      assert.equal((await apply(session)).status, "paid");
      assert.equal((await byId("cs_test_paid")).outcome, "final");
      assert.deepEqual(await outboxTopics(sql, orderId), ["order.paid"]);
      assert.equal((await orderState(sql, orderId)).payment_intent_id, "pi_test_paid");
    });

    await t.step("an expired session expires the order and gives the stock back", async () => {
      const [before] = await sql`select stock from public.products where id = ${product}`;
      const { orderId } = await createOrderInSql(sql, product, { sessionId: "cs_test_gone" });
      const answer = await apply(sessionObject(orderId, "cs_test_gone", { status: "expired" }));
      assert.equal(answer.status, "expired");
      const [after] = await sql`select stock from public.products where id = ${product}`;
      assert.equal(after?.stock, before?.stock);
      assert.deepEqual(await outboxTopics(sql, orderId), ["order.expired"]);
    });

    await t.step("a session that is not the order's own is unknown", async () => {
      const { orderId } = await createOrderInSql(sql, product, { sessionId: "cs_test_own" });
      const answer = await apply(sessionObject(orderId, "cs_test_stranger", {
        status: "complete",
        payment_status: "paid",
        amount_total: 1000,
      }));
      assert.equal(answer.outcome, "unknown");
      assert.equal((await orderState(sql, orderId)).status, "pending");
    });

    await t.step("landing page and webhook race on 20 orders: each paid once", async () => {
      const orders = await Promise.all(Array.from({ length: 20 }, async (_, i) => {
        const sessionId = `cs_test_race_${i}`;
        const { orderId } = await createOrderInSql(sql, product, { sessionId });
        return {
          orderId,
          session: sessionObject(orderId, sessionId, {
            status: "complete",
            payment_status: "paid",
            amount_total: 1000,
            payment_intent: `pi_test_race_${i}`,
          }),
        };
      }));
      await Promise.all(orders.flatMap(({ session }) => [
        apply(session),
        apply(session),
        sql`select public.apply_stripe_event(${
          sql.json(
            stripeEvent("checkout.session.completed", session) as unknown as postgres.JSONValue,
          )
        })`,
      ]));
      for (const { orderId } of orders) {
        assert.equal((await orderState(sql, orderId)).status, "paid");
        assert.deepEqual(await outboxTopics(sql, orderId), ["order.paid"]);
      }
    });
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
