/**
 * Operations fail loudly: scheduling the cleanup with pg_cron either works or the
 * migration fails with a clear message, and `deno task ops` says when the cleanup last ran.
 * This machine's Postgres has no pg_cron, so a stand-in `cron.schedule` plays Supabase's.
 */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase, startTestStack, supabaseClient } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import { runOps } from "./webhook_helpers.ts";

Deno.test("scheduling the cleanup with pg_cron", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await t.step("without pg_cron the migration goes on and says so", async () => {
      const [row] = await sql<{ result: string }[]>`select private.schedule_cleanup() as result`;
      assert.match(row?.result ?? "", /^pg_cron not (available|loaded)/);
    });

    await t.step("a pg_cron that refuses the job fails the migration, clearly", async () => {
      await sql.unsafe(`
        create schema cron;
        create function cron.schedule(job_name text, schedule text, command text)
        returns bigint language plpgsql as $$
        begin raise exception 'permission denied for schema cron'; end $$;`);
      await assert.rejects(
        sql`select private.schedule_cleanup()`,
        (error: Error) => {
          assert.match(
            error.message,
            /scheduling the cleanup with pg_cron failed: permission denied for schema cron/,
          );
          return true;
        },
      );
    });

    await t.step("a working pg_cron gets the job every 15 minutes", async () => {
      await sql.unsafe(`
        create table cron.stub_jobs (job_name text, schedule text, command text);
        create or replace function cron.schedule(job_name text, schedule text, command text)
        returns bigint language plpgsql as $$
        begin insert into cron.stub_jobs values (job_name, schedule, command); return 1; end $$;`);
      const [row] = await sql<{ result: string }[]>`select private.schedule_cleanup() as result`;
      assert.equal(row?.result, "scheduled");
      assert.deepEqual([...await sql`select * from cron.stub_jobs`], [{
        job_name: "cleanup-expired-idempotency-keys",
        schedule: "*/15 * * * *",
        command: "select public.cleanup_expired_idempotency_keys(1000)",
      }]);
    });
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});

Deno.test("deno task ops reports when the cleanup last ran", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  const service = supabaseClient(stack, stack.serviceRoleKey);

  await t.step("never: reported, and it needs a human", async () => {
    const report = await runOps(stack);
    assert.match(report.stdout, /Cleanup last ran: never/);
    assert.equal(report.code, 1, report.stderr);
  });

  await t.step("each run is recorded; a recent one is all right", async () => {
    const { error } = await service.rpc("cleanup_expired_idempotency_keys", { p_batch_size: 10 });
    assert.equal(error, null);
    const [run] = await stack.sql<{ ran_at: Date; expired_orders: number }[]>`
      select ran_at, expired_orders from public.cleanup_runs order by id desc limit 1`;
    assert.ok(run);
    assert.ok(Date.now() - run.ran_at.getTime() < 60_000);

    const report = await runOps(stack);
    assert.match(report.stdout, /Cleanup last ran: \d{4}-\d\d-\d\dT[\d:.]+Z? \(\d+ min ago\)/);
    assert.equal(report.code, 0, report.stdout + report.stderr);
    const json = JSON.parse((await runOps(stack, "--json")).stdout);
    assert.ok(json.cleanup.last_ran_at);
  });

  await t.step("a run older than --cleanup-max-age-minutes needs a human again", async () => {
    await stack.sql`update public.cleanup_runs set ran_at = now() - interval '2 hours'`;
    const report = await runOps(stack, "--cleanup-max-age-minutes=60");
    assert.match(report.stdout, /Cleanup last ran: .*\(120 min ago\).*overdue/);
    assert.equal(report.code, 1);
  });
});
