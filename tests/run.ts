/**
 * `deno task test`: one Postgres for the whole run (a throwaway cluster, or DATABASE_URL's
 * server in a database of its own), a template database prepared once (bootstrap +
 * migrations + seed), then `deno test` as a child; each test clones the template
 * (tests/harness.ts). The last line is always `N passed, N failed`.
 *
 * Usage: deno run -A tests/run.ts [--bench] [deno test args, e.g. a file or --filter]
 */
import { prepareDatabase } from "../local/database.ts";
import { exitInProgress, installExitHandlers, registerExitCleanup } from "../local/exit.ts";
import { PROJECT_ROOT } from "../local/paths.ts";
import { createDatabase, databaseUrl, dropDatabase, startPostgres } from "../local/postgres.ts";
import postgres from "npm:postgres@3.4.9";

/** How tests/harness.ts finds the server and the template database of this run. */
export const ADMIN_URL_ENV = "IC_TEST_ADMIN_URL";
export const TEMPLATE_DB_ENV = "IC_TEST_TEMPLATE_DB";

const SUMMARY = /(?:^|\n)(?:ok|FAILED) \| (\d+) passed(?: \(\d+ steps?\))? \| (\d+) failed/;

export function parseSummary(output: string): { passed: number; failed: number } | undefined {
  // deno test colours its summary; the numbers are what matters.
  // deno-lint-ignore no-control-regex
  const plain = output.replace(/\x1b\[[0-9;]*m/g, "");
  const match = SUMMARY.exec(plain);
  if (!match) return undefined;
  return { passed: Number(match[1]), failed: Number(match[2]) };
}

async function main(): Promise<number> {
  installExitHandlers();
  const bench = Deno.args.includes("--bench");
  const passThrough = Deno.args.filter((arg) => arg !== "--bench");
  const server = await startPostgres({ databaseUrl: Deno.env.get("DATABASE_URL") || undefined });
  const template = `ic_test_${crypto.randomUUID().replaceAll("-", "").slice(0, 10)}`;
  let teardown: Promise<void> | undefined;
  // One teardown, shared by the normal path and the Ctrl-C path, so neither exits early.
  const tearDown = () =>
    teardown ??= (async () => {
      // On a shared server our databases must not outlive the run; a cluster goes entirely.
      if (!server.ownsCluster) {
        await dropRunDatabases(server.adminUrl, template).catch((e) => console.error(e));
      }
      await server.stop();
    })();
  const unregister = registerExitCleanup({
    name: "test databases",
    run: tearDown,
    runSync: () => {},
  });
  try {
    await createDatabase(server.adminUrl, template);
    await prepareDatabase(databaseUrl(server.adminUrl, template));
    return await runDeno(bench, passThrough, {
      [ADMIN_URL_ENV]: server.adminUrl,
      [TEMPLATE_DB_ENV]: template,
    });
  } finally {
    await tearDown();
    unregister();
  }
}

async function runDeno(
  bench: boolean,
  args: string[],
  env: Record<string, string>,
): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: bench ? ["bench", "-A", "--no-check", ...args] : ["test", "-A", "--no-check", ...args],
    cwd: PROJECT_ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const unregister = registerExitCleanup({
    name: `deno ${bench ? "bench" : "test"} (pid ${child.pid})`,
    run: async () => {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
      await child.status;
    },
    runSync: () => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
    },
  });
  let output = "";
  const decoder = new TextDecoder();
  for await (const chunk of child.stdout) {
    await Deno.stdout.write(chunk);
    // Only the tail can hold the summary.
    output = (output + decoder.decode(chunk, { stream: true })).slice(-65_536);
  }
  const status = await child.status;
  unregister();
  if (bench) {
    console.log(`deno bench exited with code ${status.code}`);
    return status.code;
  }
  const summary = parseSummary(output);
  if (!summary) {
    console.log(`0 passed, 1 failed`);
    return status.code === 0 ? 1 : status.code;
  }
  console.log(`${summary.passed} passed, ${summary.failed} failed`);
  return status.code;
}

async function dropRunDatabases(adminUrl: string, template: string): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql<{ datname: string }[]>`
      select datname from pg_database where datname = ${template} or datname like ${
      template + "\\_%"
    }`;
    for (const row of rows) await dropDatabase(adminUrl, row.datname);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

if (import.meta.main) {
  const code = await main();
  // After Ctrl-C the exit handler owns the exit (code 130, once everything is cleaned up).
  if (!exitInProgress()) Deno.exit(code);
}
