import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { DRIPPER, INTEGRATION } from "./checkout_helpers.ts";

const FP = "f".repeat(64);

Deno.test("cleanup_expired_idempotency_keys", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  try {
    const cleanup = async (batch: number) => {
      const [row] = await sql<
        { deleted_request_keys: number; deleted_stripe_keys: number; expired_orders: number }[]
      >`select * from public.cleanup_expired_idempotency_keys(${batch})`;
      if (!row) throw new Error("cleanup returned no row");
      return row;
    };

    await t.step("removes only expired request keys, in bounded batches", async () => {
      await sql`
        insert into public.idempotency_keys (scope, key, request_fingerprint, status,
          response_status, response_body, expires_at)
        select 'guest', 'old-' || i, ${FP}, 'completed', 201, '{}'::jsonb, now() - interval '1 minute'
        from generate_series(1, 25) i`;
      await sql`
        insert into public.idempotency_keys (scope, key, request_fingerprint, status,
          response_status, response_body, expires_at)
        values ('guest', 'fresh', ${FP}, 'completed', 201, '{}'::jsonb, now() + interval '1 hour')`;
      // Expired, but its owner still holds a live lease: left alone.
      await sql`
        insert into public.idempotency_keys (scope, key, request_fingerprint, status,
          lease_token, locked_until, expires_at)
        values ('guest', 'leased', ${FP}, 'in_progress', gen_random_uuid(),
          now() + interval '1 minute', now() - interval '1 minute')`;

      assert.equal((await cleanup(10)).deleted_request_keys, 10);
      assert.equal((await cleanup(10)).deleted_request_keys, 10);
      assert.equal((await cleanup(10)).deleted_request_keys, 5);
      assert.equal((await cleanup(10)).deleted_request_keys, 0);
      const left = await sql<{ key: string }[]>`
        select key from public.idempotency_keys order by key`;
      assert.deepEqual(left.map((r) => r.key), ["fresh", "leased"]);
    });

    await t.step("removes Stripe operation rows only 7 days after their expiry", async () => {
      await sql`
        insert into public.stripe_idempotency_keys (operation_type, operation_id,
          stripe_idempotency_key, request_fingerprint, status, stripe_resource_id, expires_at)
        values
          ('customer:create', 'a', 'customer:create:a:' || gen_random_uuid(), 'x', 'succeeded',
           'cus_a', now() - interval '8 days'),
          ('customer:create', 'b', 'customer:create:b:' || gen_random_uuid(), 'x', 'succeeded',
           'cus_b', now() - interval '6 days')`;
      assert.equal((await cleanup(100)).deleted_stripe_keys, 1);
      const left = await sql`select operation_id from public.stripe_idempotency_keys`;
      assert.deepEqual(left.map((r) => r.operation_id), ["b"]);
    });

    await t.step("releases the stock of abandoned checkouts, once", async () => {
      const [before] = await sql<{ stock: number }[]>`
        select stock from public.products where id = ${DRIPPER}`;
      const orders = await sql<{ id: string }[]>`
        insert into public.orders (scope, idempotency_key, request_fingerprint, email, currency,
          amount_subtotal, amount_total, success_url, cancel_url, checkout_expires_at)
        values
          ('guest', 'abandoned', ${FP}, 'a@b.c', 'usd', 3200, 3200, 'http://x/s', 'http://x/c',
           now() - interval '2 hours'),
          ('guest', 'still-open', ${FP}, 'a@b.c', 'usd', 3200, 3200, 'http://x/s', 'http://x/c',
           now() + interval '20 minutes')
        returning id`;
      for (const o of orders) {
        await sql`insert into public.order_items (order_id, product_id, name, quantity, unit_amount)
          values (${o.id}, ${DRIPPER}, 'Ceramic dripper', 1, 3200)`;
      }
      await sql`update public.products set stock = stock - 2 where id = ${DRIPPER}`;

      assert.equal((await cleanup(100)).expired_orders, 1);
      assert.equal((await cleanup(100)).expired_orders, 0);
      const [after] = await sql<{ stock: number }[]>`
        select stock from public.products where id = ${DRIPPER}`;
      assert.equal(after?.stock, (before?.stock ?? 0) - 1, "one reservation back, the other kept");
      const statuses = await sql<{ idempotency_key: string; status: string }[]>`
        select idempotency_key, status from public.orders order by idempotency_key`;
      assert.deepEqual(statuses.map((s) => [s.idempotency_key, s.status]), [
        ["abandoned", "expired"],
        ["still-open", "pending"],
      ]);
    });

    await t.step("leaves an order flagged for review alone and queues order.expired", async () => {
      const [flagged] = await sql<{ id: string }[]>`
        insert into public.orders (scope, idempotency_key, request_fingerprint, email, currency,
          amount_subtotal, amount_total, success_url, cancel_url, checkout_expires_at,
          needs_review, review_reason)
        values ('guest', 'flagged', ${FP}, 'a@b.c', 'usd', 3200, 3200, 'http://x/s', 'http://x/c',
          now() - interval '2 hours', true, 'amount differs')
        returning id`;
      assert.equal((await cleanup(100)).expired_orders, 0);
      const [row] = await sql`select status from public.orders where id = ${flagged?.id ?? ""}`;
      assert.equal(row?.status, "pending");
      const topics = await sql<{ topic: string }[]>`
        select o.topic from public.outbox o join public.orders r on r.id = o.order_id
        where r.idempotency_key = 'abandoned'`;
      assert.deepEqual(topics.map((r) => r.topic), ["order.expired"]);
    });

    await t.step("refuses a batch size below 1", async () => {
      await assert.rejects(() => cleanup(0), /batch size must be at least 1, got 0/);
    });
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
