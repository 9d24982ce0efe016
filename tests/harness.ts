import postgres from "npm:postgres@3.4.9";
import { createClient, type SupabaseClient } from "npm:@supabase/supabase-js@2.119.1";
import { createDatabase, databaseUrl, dropDatabase } from "../local/stack/postgres.ts";
import { type Stack, type StackOptions, startStack } from "../local/stack/stack.ts";
import type { Database } from "../supabase/functions/_shared/database.types.ts";
import { ADMIN_URL_ENV, TEMPLATE_DB_ENV } from "./run.ts";

/**
 * One test's own world: a fresh database cloned from the template tests/run.ts prepared
 * (bootstrap + migrations + seed), and a stack on free ports in front of it.
 */

export interface TestStack extends Stack {
  /** Superuser connection to this test's own database. */
  sql: postgres.Sql;
  dbName: string;
}

/** The fixture functions (echo stand-ins named like the real ones) for the stack's own tests. */
export const FIXTURE_FUNCTIONS_DIR = new URL("./fixtures/functions", import.meta.url).pathname;

let databases = 0;

export function testDatabaseEnv(): { adminUrl: string; template: string } {
  const adminUrl = Deno.env.get(ADMIN_URL_ENV);
  const template = Deno.env.get(TEMPLATE_DB_ENV);
  if (!adminUrl || !template) {
    throw new Error(
      `${ADMIN_URL_ENV} and ${TEMPLATE_DB_ENV} are unset: run the tests with \`deno task test\``,
    );
  }
  return { adminUrl, template };
}

/** A fresh database from the template; drop it with the returned function. */
export async function createTestDatabase(): Promise<
  { name: string; url: string; drop(): Promise<void> }
> {
  const { adminUrl, template } = testDatabaseEnv();
  const name = `${template}_${++databases}_${crypto.randomUUID().slice(0, 6)}`;
  await createDatabase(adminUrl, name, { template });
  return {
    name,
    url: databaseUrl(adminUrl, name),
    drop: () => dropDatabase(adminUrl, name),
  };
}

/** `await using stack = await startTestStack()`: everything is gone when the block ends. */
export async function startTestStack(options: Partial<StackOptions> = {}): Promise<TestStack> {
  const database = await createTestDatabase();
  const sql = postgres(database.url, { max: 4, onnotice: () => {} });
  let stack: Stack;
  try {
    stack = await startStack({
      port: 0,
      emulatorPort: 0,
      quiet: true,
      ...options,
      // Most tests check out many carts as one e-mail from one address; the open-checkout
      // limits are off unless a test sets them (tests/checkout_pending_limits_test.ts).
      functionEnv: {
        PENDING_CHECKOUTS_PER_EMAIL: "0",
        PENDING_CHECKOUTS_PER_IP: "0",
        ...options.functionEnv,
      },
      databaseUrl: database.url,
    });
  } catch (error) {
    await sql.end({ timeout: 5 });
    await database.drop();
    throw error;
  }
  let disposed: Promise<void> | undefined;
  const stop = () =>
    disposed ??= (async () => {
      try {
        await stack.stop();
      } finally {
        await sql.end({ timeout: 5 });
        await database.drop();
      }
    })();
  return { ...stack, sql, dbName: database.name, stop, [Symbol.asyncDispose]: stop };
}

/** A supabase-js client against the stack, as a browser or a function would build it. */
export function supabaseClient(
  stack: Pick<Stack, "apiUrl">,
  key: string,
): SupabaseClient<Database> {
  return createClient<Database>(stack.apiUrl, key, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

/** A user id plus its access token, for calls as `authenticated`. */
export async function signedInUser(
  stack: Stack,
  email = `user-${crypto.randomUUID().slice(0, 8)}@example.com`,
): Promise<{ id: string; email: string; token: string }> {
  const id = crypto.randomUUID();
  return { id, email, token: await stack.mintUserToken({ sub: id, email }) };
}
