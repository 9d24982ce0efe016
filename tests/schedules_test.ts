/**
 * The scheduling migration: a no-op on plain Postgres, and, with stand-ins for what
 * Supabase provides (pg_cron's cron.schedule, pg_net's net.http_post with its real
 * signature, Vault's decrypted_secrets), the jobs and the HTTP calls they make.
 */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";

Deno.test("outbox-dispatch and stripe-reconcile schedules", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await t.step("plain Postgres: nothing scheduled, the migration applied", async () => {
      const [row] = await sql`
        select to_regnamespace('cron') is null as no_cron, to_regnamespace('net') is null as no_net,
          to_regprocedure('private.invoke_edge_function(text, integer)') is not null as has_invoke`;
      assert.deepEqual({ ...row }, { no_cron: true, no_net: true, has_invoke: true });
    });

    await sql.unsafe(`
      create schema cron;
      create table cron.jobs (name text primary key, schedule text, command text);
      create function cron.schedule(job_name text, schedule text, command text) returns bigint
        language sql as $$
          insert into cron.jobs values (job_name, schedule, command)
          on conflict (name) do update set schedule = excluded.schedule, command = excluded.command
          returning 1::bigint $$;
      create schema net;
      create table net.calls (id bigserial, url text, body jsonb, headers jsonb, timeout integer);
      create function net.http_post(url text, body jsonb default '{}', params jsonb default '{}',
        headers jsonb default '{}', timeout_milliseconds integer default 5000) returns bigint
        language sql as $$
          insert into net.calls (url, body, headers, timeout)
          values (url, body, headers, timeout_milliseconds) returning id $$;
      create schema vault;
      create table vault.decrypted_secrets (name text primary key, decrypted_secret text);
    `);

    await t.step("a run without the Vault secrets fails, naming them", async () => {
      await assert.rejects(
        sql`select private.invoke_edge_function('outbox-dispatch')`,
        /project_url and edge_functions_secret_key/,
      );
    });

    await t.step("schedules outbox-dispatch every minute and reconcile every 5", async () => {
      await sql`select private.schedule_edge_functions()`;
      await sql`select private.schedule_edge_functions()`;
      const jobs = await sql`select name, schedule, command from cron.jobs order by name`;
      assert.deepEqual(jobs.map((j) => ({ ...j })), [
        {
          name: "outbox-dispatch",
          schedule: "* * * * *",
          command: "select private.invoke_edge_function('outbox-dispatch')",
        },
        {
          name: "stripe-reconcile",
          schedule: "*/5 * * * *",
          command: "select private.invoke_edge_function('stripe-reconcile')",
        },
      ]);
    });

    await t.step("a job POSTs to the function with the Vault's URL and key", async () => {
      await sql`insert into vault.decrypted_secrets values
        ('project_url', 'https://ref.supabase.co/'), ('edge_functions_secret_key', 'sb_secret_x')`;
      for (const job of await sql<{ command: string }[]>`select command from cron.jobs`) {
        await sql.unsafe(job.command);
      }
      const calls = await sql`select url, body, headers, timeout from net.calls order by id`;
      const headers = {
        "content-type": "application/json",
        apikey: "sb_secret_x",
        authorization: "Bearer sb_secret_x",
      };
      assert.deepEqual(calls.map((c) => ({ ...c })), [
        {
          url: "https://ref.supabase.co/functions/v1/outbox-dispatch",
          body: {},
          headers,
          timeout: 120000,
        },
        {
          url: "https://ref.supabase.co/functions/v1/stripe-reconcile",
          body: {},
          headers,
          timeout: 120000,
        },
      ]);
    });

    await t.step("no API role may call the scheduling helpers", async () => {
      for (const role of ["anon", "authenticated", "service_role"]) {
        const [row] = await sql`
          select has_function_privilege(${role}, 'private.invoke_edge_function(text, integer)',
            'execute') as a,
            has_function_privilege(${role}, 'private.schedule_edge_functions()', 'execute') as b`;
        assert.deepEqual({ ...row }, { a: false, b: false }, role);
      }
    });
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
