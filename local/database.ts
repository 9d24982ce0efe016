import postgres from "npm:postgres@3.4.9";
import { exists, PROJECT_ROOT, SUPABASE_CLI, SUPABASE_DIR } from "./paths.ts";

const BOOTSTRAP_SQL = new URL("./bootstrap.sql", import.meta.url);

/**
 * Makes `url` look like a Supabase database with this project's schema: the bootstrap
 * (roles, `auth.*`), then the migrations through the real Supabase CLI, then seed.sql.
 * Safe to run again on a prepared database: each step only adds what is missing.
 */
export async function prepareDatabase(url: string): Promise<void> {
  await runSqlFile(url, BOOTSTRAP_SQL);
  await applyMigrations(url);
  const seed = `${SUPABASE_DIR}/seed.sql`;
  if (await exists(seed)) await runSqlFile(url, new URL(`file://${seed}`));
}

/** `supabase migration up`, as on a real project; its output is the error when it fails. */
export async function applyMigrations(url: string): Promise<void> {
  await runSupabaseCli(["migration", "up", `--remote=${url}`, "--yes"]);
}

/** Runs the npm-installed Supabase CLI in the project root; returns stdout, throws with both streams. */
export async function runSupabaseCli(args: string[]): Promise<string> {
  const output = await new Deno.Command(SUPABASE_CLI, {
    args,
    cwd: PROJECT_ROOT,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    // The CLI must never go looking for Docker or a browser.
    env: { SUPABASE_YES: "1", CI: "1", DO_NOT_TRACK: "1" },
  }).output();
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
