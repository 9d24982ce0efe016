import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";

/** What the browser-facing roles may call; everything else is for service_role alone. */
const PUBLIC_API = ["list_active_products()"];

Deno.test("row level security and grants", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 1, onnotice: () => {} });
  try {
    await t.step("anon and authenticated may execute only the public API functions", async () => {
      for (const role of ["anon", "authenticated"]) {
        const rows = await sql<{ fn: string }[]>`
          select replace(p.oid::regprocedure::text, 'public.', '') as fn
          from pg_proc p join pg_namespace n on n.oid = p.pronamespace
          where n.nspname = 'public' and p.prokind = 'f'
            and has_function_privilege(${role}, p.oid, 'execute')
          order by 1`;
        assert.deepEqual(rows.map((r) => r.fn), PUBLIC_API, role);
      }
    });

    await t.step("service_role may execute every function of the API schema", async () => {
      const rows = await sql<{ fn: string }[]>`
        select p.oid::regprocedure::text as fn
        from pg_proc p join pg_namespace n on n.oid = p.pronamespace
        where n.nspname = 'public' and p.prokind = 'f'
          and not has_function_privilege('service_role', p.oid, 'execute')`;
      assert.deepEqual(rows.map((r) => r.fn), []);
    });

    await t.step("no API role may call the migrations' grant helper", async () => {
      for (const role of ["anon", "authenticated", "service_role"]) {
        const [row] = await sql<{ allowed: boolean }[]>`
          select has_function_privilege(${role},
            'private.restrict_to_service_role(regprocedure[])', 'execute') as allowed`;
        assert.equal(row?.allowed, false, role);
      }
    });

    await t.step("row level security is on for every table of the API schema", async () => {
      const rows = await sql<{ table: string }[]>`
        select c.relname as table from pg_class c join pg_namespace n on n.oid = c.relnamespace
        where n.nspname = 'public' and c.relkind = 'r' and not c.relrowsecurity`;
      assert.deepEqual(rows.map((r) => r.table), []);
    });

    await t.step(
      "anon and authenticated cannot read the idempotency, webhook or outbox tables",
      async () => {
        for (const role of ["anon", "authenticated"]) {
          for (
            const table of [
              "idempotency_keys",
              "stripe_idempotency_keys",
              "stripe_webhook_events",
              "outbox",
              "stripe_customers",
              "stripe_reconcile_state",
            ]
          ) {
            const [row] = await sql<{ allowed: boolean }[]>`
            select has_table_privilege(${role}, ${"public." + table}, 'select')
              or has_table_privilege(${role}, ${"public." + table}, 'insert')
              or has_table_privilege(${role}, ${"public." + table}, 'update')
              or has_table_privilege(${role}, ${"public." + table}, 'delete') as allowed`;
            assert.equal(row?.allowed, false, `${role} on ${table}`);
          }
        }
      },
    );
  } finally {
    await sql.end({ timeout: 5 });
    await db.drop();
  }
});
