/**
 * Seed data stays local: the Supabase CLI's reset of a remote (linked) database applies
 * the migrations and inserts no demo products; the local stack still loads them.
 */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase, testDatabaseEnv } from "./harness.ts";
import { createDatabase, databaseUrl, dropDatabase } from "../local/stack/postgres.ts";
import { BEANS, INTEGRATION } from "./checkout_helpers.ts";
import { applyBootstrap, runSupabaseCli, SEED_SQL } from "../local/stack/database.ts";
import { exists, PROJECT_ROOT } from "../local/stack/paths.ts";

Deno.test("demo products are seeded by the local stack only", INTEGRATION, async (t) => {
  await t.step("the CLI's seed is off and no seed file sits where it looks", async () => {
    assert.equal(await exists(`${PROJECT_ROOT}/supabase/seed.sql`), false);
    const toml = await Deno.readTextFile(`${PROJECT_ROOT}/supabase/config.toml`);
    assert.match(toml, /\[db\.seed\]\s*\nenabled = false/);
    assert.equal(SEED_SQL, `${PROJECT_ROOT}/local/stack/seed.sql`);
    assert.equal(await exists(SEED_SQL), true);
  });

  await t.step("the local stack's database has the demo products", async () => {
    const db = await createTestDatabase();
    const sql = postgres(db.url, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql`select count(*)::int as n from public.products where id = ${BEANS}`;
      assert.equal(row?.n, 1);
    } finally {
      await sql.end({ timeout: 5 });
      await db.drop();
    }
  });

  await t.step(
    "the CLI's push to a remote database with its seed inserts no products",
    async () => {
      // `db reset --linked` and `db push --include-seed` seed from the same [db.seed] config;
      // push needs no Docker and leaves the bootstrap's auth schema in place.
      const { adminUrl } = testDatabaseEnv();
      const name = `seedless_${crypto.randomUUID().slice(0, 8)}`;
      await createDatabase(adminUrl, name);
      const url = databaseUrl(adminUrl, name);
      const sql = postgres(url, { max: 1, onnotice: () => {} });
      try {
        await applyBootstrap(url);
        const remote = new URL(url);
        remote.searchParams.set("sslmode", "disable");
        await runSupabaseCli(["db", "push", `--remote=${remote}`, "--include-seed", "--yes"]);
        const [migrated] = await sql`select to_regclass('public.orders') is not null as ok`;
        assert.equal(migrated?.ok, true, "the migrations were applied");
        const [row] = await sql`select count(*)::int as n from public.products`;
        assert.equal(row?.n, 0, "the CLI seeded demo products");
      } finally {
        await sql.end({ timeout: 5 });
        await dropDatabase(adminUrl, name);
      }
    },
  );
});
