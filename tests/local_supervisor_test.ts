import assert from "node:assert/strict";
import { FIXTURE_FUNCTIONS_DIR, startTestStack, type TestStack } from "./harness.ts";

/**
 * The supervisor (local/stack/functions.ts): a function process that dies unasked is booted
 * again, like the edge runtime boots a fresh worker, and one that crashes at boot is retried
 * with a growing backoff and reported by /health, never spun.
 */

const FLAKY_FUNCTIONS_DIR = new URL("./fixtures/flaky_functions", import.meta.url).pathname;

interface ProcessReport {
  state: string;
  pid: number | null;
  restarts: number;
  last_exit: string | null;
  retry_in_ms?: number;
}

async function health(stack: TestStack) {
  const response = await fetch(`${stack.apiUrl}/health`);
  const body = await response.json() as {
    functions: Record<string, string>;
    processes: Record<string, ProcessReport>;
  };
  return { http: response.status, ...body };
}

function sleep(ms: number) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("a function process that dies is booted again on the next request", async () => {
  await using stack = await startTestStack({ functionsDir: FIXTURE_FUNCTIONS_DIR });
  const url = `${stack.functionsUrl}/guest-checkout`;
  const first = await (await fetch(url)).json();
  assert.equal((await health(stack)).processes["guest-checkout"]?.restarts, 0);

  Deno.kill(first.pid, "SIGKILL");
  const started = Date.now();
  let answer: Response | undefined;
  while (Date.now() - started < 10_000) {
    answer = await fetch(url);
    if (answer.status === 200) break;
    await answer.body?.cancel();
    await sleep(50);
  }
  assert.equal(answer?.status, 200, "the function answers again");
  const second = await answer.json();
  assert.notEqual(second.pid, first.pid, "a fresh process");
  assert.ok(Date.now() - started < 5_000, `back within a few seconds (${Date.now() - started} ms)`);

  const report = await health(stack);
  assert.equal(report.http, 200);
  assert.equal(report.functions["guest-checkout"], "up");
  const process = report.processes["guest-checkout"];
  assert.equal(process?.state, "up");
  assert.equal(process?.pid, second.pid);
  assert.equal(process?.restarts, 1);
  assert.match(process?.last_exit ?? "", new RegExp(`pid ${first.pid} killed by SIGKILL`));
  assert.equal(report.processes["stripe-webhook"]?.restarts, 0, "the others were left alone");
});

Deno.test("a function that crashes at boot is retried with backoff and reported, not spun", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ic-flaky-" });
  const crashFlag = `${dir}/crash`;
  // Each boot of the fixture reports itself here before it decides whether to crash.
  const bootTimes: number[] = [];
  await using bootServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => {
      bootTimes.push(Date.now());
      return new Response("noted");
    },
  );
  const boots = () => Promise.resolve(bootTimes);
  try {
    await using stack = await startTestStack({
      functionsDir: FLAKY_FUNCTIONS_DIR,
      functionEnv: {
        IC_FIXTURE_BOOT_URL: `http://127.0.0.1:${bootServer.addr.port}/`,
        IC_FIXTURE_CRASH_FLAG: crashFlag,
      },
      stripeApiBase: "http://127.0.0.1:9",
    });
    const url = `${stack.functionsUrl}/flaky`;
    // Not in config.toml, so verify_jwt holds: any valid key gets through.
    const fetchFlaky = () => fetch(url, { headers: { authorization: `Bearer ${stack.anonKey}` } });
    const { pid } = await (await fetchFlaky()).json();
    assert.equal((await boots()).length, 1);

    await Deno.writeTextFile(crashFlag, "");
    Deno.kill(pid, "SIGTERM");
    const watchMs = 6_000;
    const started = Date.now();
    let answered = 0;
    while (Date.now() - started < watchMs) {
      // Requests while it cannot boot get 503 BOOT_ERROR at once; they never trigger a boot.
      const before = Date.now();
      const response = await fetchFlaky();
      const body = await response.json();
      assert.equal(response.status, 503, JSON.stringify(body));
      assert.equal(body.code, "BOOT_ERROR");
      assert.ok(Date.now() - before < 2_000, "a request does not wait out the backoff");
      answered++;
      await sleep(100);
    }
    const times = [...(await boots())].slice(1);
    const gaps = times.slice(1).map((time, i) => time - (times[i] as number));
    // Back-to-back boots would be one every few hundred ms (dozens in 6 s).
    assert.ok(times.length >= 2 && times.length <= 5, `${times.length} boots in ${watchMs} ms`);
    for (let i = 1; i < gaps.length; i++) {
      assert.ok(
        (gaps[i] as number) > (gaps[i - 1] as number) + 200,
        `gaps grow: ${gaps.join(", ")}`,
      );
    }
    assert.ok(answered > 20, "requests kept being answered meanwhile");

    const report = await health(stack);
    assert.equal(report.http, 503);
    assert.equal(report.functions.flaky, "down");
    const flaky = report.processes.flaky;
    assert.ok(flaky?.state === "backoff" || flaky?.state === "starting", flaky?.state);
    assert.ok((flaky?.restarts ?? 0) >= times.length, JSON.stringify(flaky));
    assert.equal(flaky?.pid === null, flaky?.state === "backoff");

    // Fixed: the next scheduled attempt boots it, without a restart of the stack.
    await Deno.remove(crashFlag);
    const deadline = Date.now() + 20_000;
    while ((await health(stack)).http !== 200 && Date.now() < deadline) await sleep(100);
    const healed = await health(stack);
    assert.equal(healed.http, 200, JSON.stringify(healed));
    assert.equal(healed.processes.flaky?.state, "up");
    assert.equal((await fetchFlaky()).status, 200);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
