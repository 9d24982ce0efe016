import assert from "node:assert/strict";
import { exists, PROJECT_ROOT } from "../local/paths.ts";
import { startPostgres } from "../local/postgres.ts";
import { FIXTURE_FUNCTIONS_DIR, startTestStack } from "./harness.ts";

/** Nothing the local stack starts may outlive it: no postgres, no deno child, no temp dir. */

const BROKEN_FUNCTIONS_DIR = new URL("./fixtures/broken_functions", import.meta.url).pathname;

/** Alive means running; a zombie waiting for its parent has already exited. */
function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

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

/** Processes whose command line mentions `text` (e.g. a temp dir or a fixture path). */
function processesMentioning(text: string): number[] {
  const found: number[] = [];
  for (const entry of Deno.readDirSync("/proc")) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const cmdline = Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ");
      if (cmdline.includes(text) && isAlive(pid)) found.push(pid);
    } catch {
      // Exited while we looked.
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
  const env: Record<string, string> = {
    PATH: Deno.env.get("PATH") ?? "/usr/bin:/bin",
    HOME: Deno.env.get("HOME") ?? "/tmp",
    PORT: "0",
    STRIPE_EMULATOR_PORT: "0",
    NO_COLOR: "1",
  };
  // DATABASE_URL stays unset, so dev makes (and must remove) its own cluster.
  const child = new Deno.Command(Deno.execPath(), {
    args: ["task", "dev"],
    cwd: PROJECT_ROOT,
    clearEnv: true,
    env,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) output += decoder.decode(chunk, { stream: true });
  })();
  let errors = "";
  const readingErrors = (async () => {
    for await (const chunk of child.stderr) errors += decoder.decode(chunk, { stream: true });
  })();
  let exited = false;
  child.status.then(() => (exited = true));
  try {
    const ready = await waitUntil(() => output.includes("Press Ctrl-C") || exited, 90_000);
    assert.ok(ready && !exited, `deno task dev did not become ready:\n${output}\n${errors}`);
    const tempDir = /throwaway cluster in (\S+)/.exec(output)?.[1];
    const postgresPid = Number(/\(pid (\d+)\)/.exec(output)?.[1]);
    const apiUrl = /API URL: (\S+)/.exec(output)?.[1];
    assert.ok(tempDir && postgresPid && apiUrl, output);
    assert.match(output, /healthy after \d+(\.\d+)? s/);
    assert.equal((await fetch(`${apiUrl}/health`)).status, 200);

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
    assert.match(output, /SIGINT: stopping the local stack/);
  } finally {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already exited, as it should have.
    }
    await child.status;
    await reading;
    await readingErrors;
  }
});
