/** stripe-reconcile's state in SQL: a forward-only cursor, the scan, the sessions to expire. */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import { createOrderInSql, createProduct } from "./webhook_helpers.ts";

Deno.test("reconcile state and sessions to expire in SQL", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 4, onnotice: () => {} });
  try {
    const state = async () => {
      const [row] = await sql`
        select cursor_event_id, extract(epoch from cursor_created)::bigint as created,
          scan_event_id from public.reconcile_state()`;
      return { ...row };
    };

    await t.step("the cursor starts empty and moves only forward", async () => {
      assert.deepEqual(await state(), {
        cursor_event_id: null,
        created: null,
        scan_event_id: null,
      });
      await sql`select public.save_reconcile_scan(now() - interval '30 days', 'evt_scan', 'evt_old')`;
      assert.equal((await state()).scan_event_id, "evt_scan");
      await sql`select public.advance_reconcile_cursor('evt_b', 2000)`;
      assert.deepEqual(await state(), {
        cursor_event_id: "evt_b",
        created: "2000",
        scan_event_id: null,
      });
      await sql`select public.advance_reconcile_cursor('evt_a', 1000)`;
      assert.equal((await state()).cursor_event_id, "evt_b", "never backwards");
      await sql`select public.advance_reconcile_cursor('evt_c', 2000)`;
      assert.equal((await state()).cursor_event_id, "evt_c", "the same second is a valid position");
      await sql`select public.save_reconcile_scan(now(), 'evt_x', 'evt_y')`;
      assert.equal((await state()).scan_event_id, null, "a scan never overrides a cursor");
    });

    await t.step("a cursor Stripe forgot is dropped, and only that one", async () => {
      await sql`select public.reset_reconcile_cursor('evt_other')`;
      assert.equal((await state()).cursor_event_id, "evt_c");
      await sql`select public.reset_reconcile_cursor('evt_c')`;
      assert.equal((await state()).cursor_event_id, null);
    });

    await t.step(
      "lists orders the cleanup expired, not those Stripe expired, until recorded closed",
      async () => {
        const product = await createProduct(sql, 10);
        const byCleanup = await createOrderInSql(sql, product, { sessionId: "cs_test_cleanup" });
        const byStripe = await createOrderInSql(sql, product, { sessionId: "cs_test_stripe" });
        const noSession = await createOrderInSql(sql, product, { sessionId: null });
        const open = await createOrderInSql(sql, product, { sessionId: "cs_test_open" });
        await sql`update public.orders set checkout_expires_at = now() - interval '2 hours'
          where id in (${byCleanup.orderId}, ${noSession.orderId})`;
        await sql`select * from public.cleanup_expired_idempotency_keys(100)`;
        const [applied] = await sql`select (public.apply_stripe_event(${
          sql.json({
            id: "evt_test_expired_by_stripe",
            type: "checkout.session.expired",
            created: 1,
            data: {
              object: {
                id: "cs_test_stripe",
                object: "checkout.session",
                status: "expired",
                metadata: { order_id: byStripe.orderId },
              },
            },
          })
        })).outcome`;
        assert.equal(applied?.outcome, "processed");

        const list = async () =>
          (await sql`select * from public.sessions_to_expire(10)`).map((r) => ({ ...r }));
        assert.deepEqual(await list(), [{
          order_id: byCleanup.orderId,
          checkout_session_id: "cs_test_cleanup",
        }]);
        const [closedByStripe] = await sql`
          select checkout_session_closed_at is not null as closed from public.orders
          where id = ${byStripe.orderId}`;
        assert.equal(closedByStripe?.closed, true);
        const [wrong] = await sql`
          select public.record_session_closed(${byCleanup.orderId}, 'cs_test_other') r`;
        assert.equal(wrong?.r, false);
        const [right] = await sql`
          select public.record_session_closed(${byCleanup.orderId}, 'cs_test_cleanup') r`;
        assert.equal(right?.r, true);
        assert.deepEqual(await list(), []);
        assert.ok(open);
      },
    );
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
