/**
 * `deno task gen-types`: a throwaway cluster with this project's migrations, then
 * `supabase gen types typescript` against it, written to
 * supabase/functions/_shared/database.types.ts. No Docker, no linked project.
 */
import { prepareDatabase, runSupabaseCli } from "../stack/database.ts";
import { installExitHandlers } from "../stack/exit.ts";
import { FUNCTIONS_DIR } from "../stack/paths.ts";
import { startPostgres } from "../stack/postgres.ts";

export const TYPES_FILE = `${FUNCTIONS_DIR}/_shared/database.types.ts`;

async function main(): Promise<void> {
  installExitHandlers();
  const server = await startPostgres();
  try {
    await prepareDatabase(server.adminUrl);
    const url = new URL(server.adminUrl);
    // A loopback cluster has no TLS; saying so keeps the CLI's TLS warning out of the output.
    url.searchParams.set("sslmode", "disable");
    const output = await runSupabaseCli([
      "gen",
      "types",
      "typescript",
      `--remote=${url}`,
      "--schema",
      "public",
    ]);
    const start = output.indexOf("export type");
    if (start < 0) throw new Error(`supabase gen types printed no types:\n${output}`);
    await Deno.writeTextFile(TYPES_FILE, output.slice(start));
  } finally {
    await server.stop();
  }
  const fmt = await new Deno.Command(Deno.execPath(), { args: ["fmt", "--quiet", TYPES_FILE] })
    .output();
  if (!fmt.success) throw new Error(`deno fmt ${TYPES_FILE} failed`);
  console.log(`wrote ${TYPES_FILE}`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    Deno.exit(1);
  }
}
