import postgres from "npm:postgres@3.4.9";
import { PROJECT_ROOT, SUPABASE_CLI } from "./paths.ts";

const BOOTSTRAP_SQL = new URL("./bootstrap.sql", import.meta.url);
/** Demo products for the local stack; not under supabase/, so the CLI never seeds them. */
export const SEED_SQL = new URL("./seed.sql", import.meta.url).pathname;

/**
 * Makes `url` look like a Supabase database with this project's schema: the bootstrap
 * (roles, `auth.*`), then the migrations through the real Supabase CLI, then the demo
 * products of local/stack/seed.sql.
 * Safe to run again on a prepared database: each step only adds what is missing.
 */
export async function prepareDatabase(url: string): Promise<void> {
  await applyBootstrap(url);
  await applyMigrations(url);
  await runSqlFile(url, new URL(`file://${SEED_SQL}`));
}

/** What Supabase has and vanilla Postgres lacks (roles, `auth.*`); only what is missing. */
export async function applyBootstrap(url: string): Promise<void> {
  await runSqlFile(url, BOOTSTRAP_SQL);
}

/** `supabase migration up`, as on a real project; its output is the error when it fails. */
export async function applyMigrations(url: string): Promise<void> {
  await runSupabaseCli(["migration", "up", `--remote=${url}`, "--yes"]);
}

/** Runs the npm-installed Supabase CLI in the project root; returns stdout, throws with both streams. */
export async function runSupabaseCli(args: string[]): Promise<string> {
  // The CLI unpacks a native module into TMPDIR and leaves it there: give it one we remove.
  const tmpDir = await Deno.makeTempDir({ prefix: "ic-supabase-cli-" });
  const output = await new Deno.Command(SUPABASE_CLI, {
    args,
    cwd: PROJECT_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // The CLI must never go looking for Docker or a browser.
    env: { SUPABASE_YES: "1", CI: "1", DO_NOT_TRACK: "1", TMPDIR: tmpDir },
  }).output().finally(() => Deno.remove(tmpDir, { recursive: true }).catch(() => {}));
  const decoder = new TextDecoder();
  if (!output.success) {
    throw new Error(
      `supabase ${args[0]} ${args[1] ?? ""} failed (code ${output.code}):\n${
        decoder.decode(output.stdout)
      }${decoder.decode(output.stderr)}`,
    );
  }
  return decoder.decode(output.stdout);
}

async function runSqlFile(url: string, file: URL): Promise<void> {
  const text = await Deno.readTextFile(file);
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    // The simple query protocol accepts a whole script with many statements.
    await sql.unsafe(text);
  } catch (error) {
    throw new Error(`${file.pathname} failed: ${error instanceof Error ? error.message : error}`);
  } finally {
    await sql.end({ timeout: 5 });
  }
}
