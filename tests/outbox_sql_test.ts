/** The outbox's delivery functions against a real Postgres: leases, backoff, dead, re-queue. */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";

interface Claimed {
  id: string;
  message_id: string;
  attempts: number;
  lease_token: string;
}

async function enqueue(sql: postgres.Sql, n: number): Promise<string[]> {
  const rows = await sql<{ id: string }[]>`
    insert into public.outbox (topic, dedupe_key, payload)
    select 'order.paid', 'test:' || gen_random_uuid(), jsonb_build_object('n', i)
    from generate_series(1, ${n}) i
    returning id`;
  return rows.map((r) => r.id);
}

function claim(
  sql: postgres.Sql,
  options: { limit?: number; lease?: number; max?: number; dueBefore?: Date } = {},
): Promise<Claimed[]> {
  return sql<Claimed[]>`
    select id, message_id, attempts, lease_token from public.claim_outbox(
      ${options.limit ?? 1}, ${options.lease ?? 60}, ${options.max ?? 14},
      ${options.dueBefore ?? null})`;
}

async function fail(sql: postgres.Sql, m: Claimed, base: number, max: number) {
  const [row] = await sql<{ outcome: string; attempts: number; next_attempt_at: Date | null }[]>`
    select * from public.fail_outbox(${m.id}, ${m.lease_token}, 'HTTP 500', ${base}, ${max})`;
  if (!row) throw new Error("no row");
  return row;
}

Deno.test("outbox delivery in SQL", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 10, onnotice: () => {} });
  try {
    await t.step("parallel claims never hand out the same message", async () => {
      await enqueue(sql, 40);
      const batches = await Promise.all(
        Array.from({ length: 10 }, () => claim(sql, { limit: 3 })),
      );
      const ids = batches.flat().map((m) => m.id);
      assert.equal(ids.length, 30);
      assert.equal(new Set(ids).size, 30);
      // What is leased is not due again until the lease ends.
      const rest = await claim(sql, { limit: 100 });
      assert.equal(rest.length, 10);
      assert.deepEqual(rest.filter((m) => ids.includes(m.id)), []);
      await sql`delete from public.outbox`;
    });

    await t.step("only the lease holder completes; a stale holder changes nothing", async () => {
      await enqueue(sql, 1);
      const [first] = await claim(sql, { lease: 1 });
      assert.ok(first);
      await sql`update public.outbox set locked_until = now() - interval '1 second'`;
      const [second] = await claim(sql);
      assert.equal(second?.id, first.id);
      assert.equal(second?.attempts, 2);
      assert.equal(second?.message_id, first.message_id, "the same id on every attempt");
      const [stale] = await sql`select public.complete_outbox(${first.id}, ${first.lease_token}) r`;
      assert.equal(stale?.r, "lease_lost");
      assert.equal((await fail(sql, first, 1, 5)).outcome, "lease_lost");
      const [done] =
        await sql`select public.complete_outbox(${second.id}, ${second.lease_token}) r`;
      assert.equal(done?.r, "done");
      const [row] =
        await sql`select status, processed_at is not null as processed from public.outbox`;
      assert.deepEqual({ ...row }, { status: "done", processed: true });
      await sql`delete from public.outbox`;
    });

    await t.step("backs off exponentially with jitter, then dies after N attempts", async () => {
      await enqueue(sql, 1);
      const waits: number[] = [];
      for (let attempt = 1; attempt <= 4; attempt++) {
        await sql`update public.outbox set next_attempt_at = now()`;
        const [m] = await claim(sql, { max: 4 });
        assert.ok(m, `attempt ${attempt} claimed`);
        assert.equal(m.attempts, attempt);
        const before = Date.now();
        const result = await fail(sql, m, 10, 4);
        if (attempt < 4) {
          assert.equal(result.outcome, "retry");
          assert.ok(result.next_attempt_at);
          waits.push((result.next_attempt_at.getTime() - before) / 1000);
        } else {
          assert.equal(result.outcome, "dead");
          assert.equal(result.next_attempt_at, null);
        }
      }
      // base 10 s: 10, 20, 40 s, each ±20 %.
      [10, 20, 40].forEach((expected, i) => {
        const wait = waits[i] ?? 0;
        assert.ok(
          wait >= expected * 0.8 - 0.5 && wait <= expected * 1.2 + 0.5,
          `wait ${i}: ${wait}`,
        );
      });
      const [dead] = await sql`
        select status, attempts, dead_at is not null as has_dead_at, last_error from public.outbox`;
      assert.deepEqual({ ...dead }, {
        status: "dead",
        attempts: 4,
        has_dead_at: true,
        last_error: "attempt 4: HTTP 500",
      });
      assert.equal((await claim(sql, { max: 4 })).length, 0, "a dead message is never claimed");
    });

    await t.step("the jitter spreads retries, and the delay is capped at six hours", async () => {
      const [row] = await sql<{ distinct: number; max: number; min: number }[]>`
        select count(distinct extract(epoch from d))::int as distinct,
               max(extract(epoch from d))::float8 as max, min(extract(epoch from d))::float8 as min
        from (select public.outbox_retry_delay(30, 30) d from generate_series(1, 50)) x`;
      assert.ok(row && row.distinct > 40, `distinct delays: ${row?.distinct}`);
      assert.ok(row.min >= 21600 * 0.8 && row.max < 21600 * 1.2, `${row.min}..${row.max}`);
    });

    await t.step("a re-queued dead message is due now with fresh attempts", async () => {
      const [dead] = await sql<{ id: string; message_id: string }[]>`
        select id, message_id from public.outbox where status = 'dead'`;
      assert.ok(dead);
      const [again] = await sql`select public.requeue_outbox(${dead.id}) r`;
      assert.equal(again?.r, "requeued");
      const [twice] = await sql`select public.requeue_outbox(${dead.id}) r`;
      assert.equal(twice?.r, "not_dead");
      const [missing] = await sql`select public.requeue_outbox(${-1}) r`;
      assert.equal(missing?.r, "not_found");
      const [m] = await claim(sql, { max: 4 });
      assert.equal(m?.id, dead.id);
      assert.equal(m?.attempts, 1);
      assert.equal(m?.message_id, dead.message_id);
      await sql`delete from public.outbox`;
    });

    await t.step("a message whose dispatcher died on its last attempt is dead", async () => {
      await enqueue(sql, 1);
      const [m] = await claim(sql, { max: 1 });
      assert.ok(m);
      await sql`update public.outbox set locked_until = now() - interval '1 second'`;
      assert.equal((await claim(sql, { max: 1 })).length, 0);
      const [row] = await sql`select status, last_error from public.outbox`;
      assert.equal(row?.status, "dead");
      assert.match(row?.last_error, /no answer recorded/);
      await sql`delete from public.outbox`;
    });

    await t.step("a pass never re-claims what became due after it started", async () => {
      await enqueue(sql, 1);
      const passStart = new Date(Date.now() - 1000);
      await sql`update public.outbox set next_attempt_at = now()`;
      assert.equal((await claim(sql, { dueBefore: passStart })).length, 0);
      assert.equal((await claim(sql)).length, 1);
    });
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
