/**
 * `deno task test`: one Postgres for the whole run (a throwaway cluster, or DATABASE_URL's
 * server in a database of its own), a template database prepared once (bootstrap +
 * migrations + seed), then `deno test` as a child; each test clones the template
 * (tests/harness.ts). The last line is always `N passed, N failed`. The tests get a private
 * TMPDIR, removed at the end with anything left running that was started under it (after a
 * Ctrl-C the test process dies without its own cleanups), so a run leaves nothing behind.
 *
 * Usage: deno run -A tests/run.ts [deno test args, e.g. a file or --filter]
 *        deno run -A tests/run.ts --bench   (tests/bench.ts instead of deno test)
 */
import { prepareDatabase } from "../local/stack/database.ts";
import { exitInProgress, installExitHandlers, registerExitCleanup } from "../local/stack/exit.ts";
import { exists, PROJECT_ROOT } from "../local/stack/paths.ts";
import {
  commandLine,
  isAlive,
  processesOfTempDir,
  withDescendants,
} from "../local/stack/processes.ts";
import {
  createDatabase,
  databaseUrl,
  dropDatabase,
  startPostgres,
} from "../local/stack/postgres.ts";
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
  const tmpDir = await Deno.makeTempDir({ prefix: "ic-test-run-" });
  // Tests make clusters in here, run by an unprivileged user when we are root.
  await Deno.chmod(tmpDir, 0o755);
  let teardown: Promise<void> | undefined;
  // One teardown, shared by the normal path and the Ctrl-C path, so neither exits early.
  const tearDown = () =>
    teardown ??= (async () => {
      await sweepAndRemove(tmpDir);
      // On a shared server our databases must not outlive the run; a cluster goes entirely.
      if (!server.ownsCluster) {
        await dropRunDatabases(server.adminUrl, template).catch((e) => console.error(e));
      }
      await server.stop();
    })();
  const unregister = registerExitCleanup({
    name: "test databases and temp dir",
    run: tearDown,
    runSync: () => {
      sweep(tmpDir);
      try {
        Deno.removeSync(tmpDir, { recursive: true });
      } catch {
        // Already removed.
      }
    },
  });
  console.log(`Postgres: ${server.description}`);
  try {
    await createDatabase(server.adminUrl, template);
    await prepareDatabase(databaseUrl(server.adminUrl, template));
    return await runDeno(bench, passThrough, {
      [ADMIN_URL_ENV]: server.adminUrl,
      [TEMPLATE_DB_ENV]: template,
      TMPDIR: tmpDir,
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
    args: bench
      ? ["run", "-A", "--no-check", "tests/bench.ts", ...args]
      : ["test", "-A", "--no-check", ...args],
    cwd: PROJECT_ROOT,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  // After a Ctrl-C the tests' own cleanups never run, so the test process goes down together with
  // everything below it, at once: the tree is read first, because a dead parent's children move
  // to init, and Chromium's helpers, which carry neither the TMPDIR nor the profile path, can
  // only be found through their parent.
  const killTree = () => {
    const tree = withDescendants([child.pid]);
    for (const pid of tree) {
      try {
        Deno.kill(pid, "SIGKILL");
      } catch {
        // Gone meanwhile.
      }
    }
    return tree;
  };
  const unregister = registerExitCleanup({
    name: `${bench ? "bench" : "deno test"} (pid ${child.pid})`,
    run: async () => {
      const tree = killTree();
      await child.status;
      const deadline = Date.now() + 5_000;
      while (tree.some(isAlive) && Date.now() < deadline) await delay(20);
    },
    runSync: () => {
      killTree();
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
    console.log(`bench exited with code ${status.code}`);
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

/**
 * Kills what the tests left running and removes the run's temp dir. A killed process (a browser
 * or a cluster of a test that a Ctrl-C cut short) can still write into the dir for a moment, and
 * one started while we looked (Chromium spawns helpers as it shuts down) escapes the first sweep
 * and can bring the dir back: Chromium recreates its profile dir with every parent. So the dir
 * counts as gone only when it is gone and no process refers to it any more.
 */
async function sweepAndRemove(tmpDir: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const killed = sweep(tmpDir);
    while (killed.some(isAlive) && Date.now() < deadline) await delay(20);
    let failure: unknown;
    try {
      await Deno.remove(tmpDir, { recursive: true });
    } catch (error) {
      if (!(error instanceof Deno.errors.NotFound)) failure = error;
    }
    if (failure === undefined && referrers(tmpDir).length === 0 && !(await exists(tmpDir))) return;
    if (Date.now() >= deadline) {
      const still = referrers(tmpDir).map((pid) => `pid ${pid} ${commandLine(pid).slice(0, 200)}`);
      console.error(
        `could not remove the run's temp dir ${tmpDir}: ${failure ?? "it came back"}` +
          (still.length ? `; still running: ${still.join("; ")}` : ""),
      );
      return;
    }
    await delay(50);
  }
}

/** Processes started under the run's TMPDIR (or a dir inside it) or naming it, and their helpers. */
function referrers(tmpDir: string): number[] {
  return withDescendants(processesOfTempDir(tmpDir));
}

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Kills what the tests left running (see referrers), saying so: none is expected. */
function sweep(tmpDir: string): number[] {
  const pids = referrers(tmpDir);
  for (const pid of pids) {
    console.error(
      `left running by the tests, killed: pid ${pid} ${commandLine(pid).slice(0, 200)}`,
    );
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Gone meanwhile.
    }
  }
  return pids;
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
