/**
 * `deno task bench`: one run on one stack (gateway, function processes, PostgREST-compatible
 * RPC, Postgres, Stripe emulator), every figure beside its goal and, for latencies, as a ratio
 * to the bare RPC floor measured in the same run. Prints one table and writes it as markdown
 * to test-artifacts/bench.md (the README's benchmarks section is that table).
 *
 * The client runs in a Worker (tests/bench_load.ts) so it does not share the gateway's thread.
 * The floor of the base commit (IC_BENCH_BASE_COMMIT, default abc3364, the RPC endpoint before
 * its schema cache) is measured side by side: its local/ is extracted with `git archive` and
 * its gateway started on the same database, and the two are called in alternating rounds.
 *
 * Sizes (env): IC_BENCH_SAMPLES (sequential samples per latency, default 400),
 * IC_BENCH_FRESH_SAMPLES (fresh checkouts and webhook deliveries, 200),
 * IC_BENCH_REQUESTS (requests per throughput run, 4000; fresh checkouts and webhooks 1/4 of it),
 * IC_BENCH_KEYS (stored keys for the large-table replay and the cleanup, 1000000),
 * IC_BENCH_CLEANUP_BATCH (1000), IC_BENCH_RSS_STEP (requests between RSS readings, 10000),
 * IC_BENCH_BASE_COMMIT ("" skips the side-by-side floor).
 */
import { startTestStack, type TestStack } from "./harness.ts";
import { callCheckout, emulator, FILTERS, guestBody, userBody } from "./checkout_helpers.ts";
import { sessionObject, stripeEvent } from "./webhook_helpers.ts";
import { LoadWorker, type RequestSpec } from "./bench_load.ts";
import { signatureHeader } from "../local/stripe-emulator/signing.ts";
import { PROJECT_ROOT } from "../local/stack/paths.ts";

const SAMPLES = envInt("IC_BENCH_SAMPLES", 400);
const FRESH_SAMPLES = envInt("IC_BENCH_FRESH_SAMPLES", 200);
const REQUESTS = envInt("IC_BENCH_REQUESTS", 4000);
const SLOW_REQUESTS = Math.max(64, Math.floor(REQUESTS / 4));
const KEYS = envInt("IC_BENCH_KEYS", 1_000_000);
const SMALL_KEYS = 1_000;
const CLEANUP_BATCH = envInt("IC_BENCH_CLEANUP_BATCH", 1000);
const RSS_STEP = envInt("IC_BENCH_RSS_STEP", 10_000);
const BASE_COMMIT = Deno.env.get("IC_BENCH_BASE_COMMIT") ?? "abc3364";
const IN_FLIGHT = 64;
const EDGE_FUNCTION_MEMORY_MB = 256;
const OUTPUT = `${PROJECT_ROOT}/test-artifacts/bench.md`;

function envInt(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (!raw) return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1) throw new Error(`${name} must be a positive integer`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Figures

interface Row {
  metric: string;
  value: string;
  goal: string;
  /** undefined: no goal to meet. */
  met?: boolean;
}

const rows: Row[] = [];
const notes: string[] = [];

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? NaN;
}

const ms = (value: number) => `${value.toFixed(2)} ms`;
const ratio = (value: number) => `${value.toFixed(2)}×`;
const perSecond = (value: number) => `${Math.round(value).toLocaleString("en-US")}/s`;

function log(message: string): void {
  console.error(`[bench] ${message}`);
}

// ---------------------------------------------------------------------------------------------
// Requests

const load = new LoadWorker();

async function latencies(label: string, requests: RequestSpec[], count: number, options: {
  expectStatus: number;
  freshKey?: boolean;
}): Promise<number[]> {
  const result = await load.run({
    requests,
    count,
    concurrency: 1,
    expectStatus: options.expectStatus,
    freshKeyHeader: options.freshKey ? "idempotency-key" : undefined,
  });
  if (result.failed > 0) {
    throw new Error(`${label}: ${result.failed} unexpected answers, e.g. ${result.failures[0]}`);
  }
  return result.latencies;
}

async function throughput(label: string, requests: RequestSpec[], count: number, options: {
  expectStatus: number;
  freshKey?: boolean;
}): Promise<number> {
  const result = await load.run({
    requests,
    count,
    concurrency: IN_FLIGHT,
    expectStatus: options.expectStatus,
    freshKeyHeader: options.freshKey ? "idempotency-key" : undefined,
  });
  if (result.failed > 0) {
    throw new Error(`${label}: ${result.failed} unexpected answers, e.g. ${result.failures[0]}`);
  }
  const rate = (count / result.elapsedMs) * 1000;
  log(`${label}: ${perSecond(rate)} (${count} requests, ${IN_FLIGHT} in flight)`);
  return rate;
}

interface Path {
  label: string;
  /** The requests of one round (webhook deliveries differ from round to round). */
  requests(round: number): RequestSpec[];
  /** Samples in all, spread over the rounds. */
  count: number;
  expectStatus: number;
  freshKey?: boolean;
}

const ROUNDS = 4;

/**
 * Sequential samples of each path, in alternating rounds, so a change in the machine's load
 * falls on all of them alike. A path without requests gets no samples.
 */
async function interleaved(paths: Path[]): Promise<number[][]> {
  const samples = paths.map((): number[] => []);
  for (let round = 0; round < ROUNDS; round++) {
    for (const [i, path] of paths.entries()) {
      const requests = path.requests(round);
      if (requests.length === 0) continue;
      samples[i]?.push(
        ...await latencies(path.label, requests, Math.ceil(path.count / ROUNDS), {
          expectStatus: path.expectStatus,
          freshKey: path.freshKey,
        }),
      );
    }
  }
  return samples;
}

function checkoutRequest(stack: TestStack, fn: string, body: unknown, headers = {}): RequestSpec {
  return {
    url: `${stack.functionsUrl}/${fn}`,
    headers: { "content-type": "application/json", ...headers },
    body: JSON.stringify(body),
  };
}

/** As supabase-js `.rpc()` sends it with the service role key. */
function rpcRequest(apiUrl: string, key: string, fn: string, args: unknown = {}): RequestSpec {
  return {
    url: `${apiUrl}/rest/v1/rpc/${fn}`,
    headers: {
      apikey: key,
      authorization: `Bearer ${key}`,
      "content-type": "application/json",
      "x-client-info": "supabase-js-deno/2.119.1",
    },
    body: JSON.stringify(args),
  };
}

// ---------------------------------------------------------------------------------------------
// The side-by-side floor of the base commit

interface BaseGateway {
  apiUrl: string;
  serviceRoleKey: string;
  stop(): Promise<void>;
}

async function startBaseGateway(databaseUrl: string): Promise<BaseGateway | undefined> {
  if (!BASE_COMMIT) return undefined;
  // Inside the project, so its npm: imports resolve through this project's node_modules.
  const dir = `${PROJECT_ROOT}/test-artifacts/bench-base-${BASE_COMMIT}`;
  await Deno.remove(dir, { recursive: true }).catch(() => {});
  await Deno.mkdir(dir, { recursive: true });
  const archive = await new Deno.Command("sh", {
    args: [
      "-c",
      `git -C "$1" archive "$2" local supabase/config.toml | tar -x -C "$3"`,
      "sh",
      PROJECT_ROOT,
      BASE_COMMIT,
      dir,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!archive.success) {
    notes.push(
      `The base commit ${BASE_COMMIT} could not be extracted (${
        new TextDecoder().decode(archive.stderr).trim()
      }): no side-by-side floor.`,
    );
    return undefined;
  }
  // The stack moved from local/stack.ts to local/stack/stack.ts; its options stayed.
  const entry = [`${dir}/local/stack/stack.ts`, `${dir}/local/stack.ts`].find((path) => {
    try {
      return Deno.statSync(path).isFile;
    } catch {
      return false;
    }
  });
  if (!entry) {
    notes.push(`The base commit ${BASE_COMMIT} has no local stack: no side-by-side floor.`);
    return undefined;
  }
  const { startStack } = await import(`file://${entry}`);
  const stack = await startStack({
    databaseUrl,
    port: 0,
    functions: [],
    stripeApiBase: "http://127.0.0.1:9",
    quiet: true,
  });
  return {
    apiUrl: stack.apiUrl,
    serviceRoleKey: stack.serviceRoleKey,
    stop: async () => {
      await stack.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Data

const FLOOR_FUNCTION = `
  create function public.bench_floor() returns integer language sql stable as $$ select 1 $$;
  revoke execute on function public.bench_floor() from public, anon, authenticated;
  grant execute on function public.bench_floor() to service_role;`;

/** Stored request keys up to `total`, as the checkouts store them, all already expired. */
async function fillKeys(stack: TestStack, total: number): Promise<number> {
  const [{ count } = { count: 0 }] = await stack.sql<{ count: number }[]>`
    select count(*)::int as count from public.idempotency_keys`;
  const missing = total - count;
  if (missing <= 0) return count;
  const started = performance.now();
  await stack.sql`
    insert into public.idempotency_keys
      (scope, key, request_fingerprint, status, response_status, response_body, created_at,
       updated_at, expires_at)
    select 'guest', gen_random_uuid()::text, md5(g::text) || md5((-g)::text), 'completed', 201,
      jsonb_build_object('order_id', gen_random_uuid(), 'status', 'awaiting_payment',
        'checkout_session_id', 'cs_test_' || md5(g::text),
        'checkout_url', 'http://127.0.0.1:12111/c/pay/cs_test_' || md5(g::text),
        'amount_total', 1200, 'currency', 'usd', 'expires_at', now()),
      now() - interval '2 days', now() - interval '2 days', now() - interval '1 day'
    from generate_series(1, ${missing}) g`;
  // As autovacuum would have left a table that grew over time, not mid-catch-up.
  await stack.sql`vacuum analyze public.idempotency_keys`;
  await stack.sql`checkpoint`;
  log(
    `stored ${missing.toLocaleString("en-US")} keys in ${
      ((performance.now() - started) / 1000).toFixed(1)
    } s`,
  );
  return total;
}

/** `n` pending orders with sessions, written with SQL, for webhook deliveries to pay. */
async function pendingOrders(
  stack: TestStack,
  n: number,
): Promise<{ id: string; session: string }[]> {
  return await stack.sql<{ id: string; session: string }[]>`
    with created as (
      insert into public.orders (scope, idempotency_key, request_fingerprint, email, currency,
        amount_subtotal, amount_total, success_url, cancel_url, checkout_expires_at,
        checkout_session_id)
      select 'guest', 'bench-' || gen_random_uuid(), repeat('b', 64), 'bench@example.com', 'usd',
        1000, 1000, 'http://localhost:3000/thanks', 'http://localhost:3000/cart',
        now() + interval '30 minutes', 'cs_test_bench_' || replace(gen_random_uuid()::text, '-', '')
      from generate_series(1, ${n})
      returning id, checkout_session_id
    ), items as (
      insert into public.order_items (order_id, product_id, name, quantity, unit_amount)
      select id, ${FILTERS}, 'Filters', 1, 1000 from created
    )
    select id, checkout_session_id as session from created`;
}

async function paidDeliveries(
  stack: TestStack,
  orders: { id: string; session: string }[],
): Promise<RequestSpec[]> {
  const secret = stack.webhookSecret.split(",")[0] ?? "";
  return await Promise.all(orders.map(async (order, i) => {
    const payload = JSON.stringify(stripeEvent(
      "checkout.session.completed",
      sessionObject(order.id, order.session, {
        amount_total: 1000,
        payment_status: "paid",
        payment_intent: `pi_bench_${i}_${order.id.slice(0, 8)}`,
      }),
    ));
    return {
      url: `${stack.functionsUrl}/stripe-webhook`,
      headers: {
        "content-type": "application/json; charset=utf-8",
        "stripe-signature": await signatureHeader(secret, payload),
      },
      body: payload,
    };
  }));
}

async function rssMb(pid: number): Promise<number> {
  const status = await Deno.readTextFile(`/proc/${pid}/status`);
  const kb = /VmRSS:\s+(\d+)\s+kB/.exec(status)?.[1];
  if (!kb) throw new Error(`no VmRSS for pid ${pid}`);
  return Number(kb) / 1024;
}

// ---------------------------------------------------------------------------------------------
// The run

async function main(): Promise<void> {
  const started = performance.now();
  const [loadAverage] = Deno.loadavg();
  await using stack = await startTestStack();
  await stack.sql.unsafe(FLOOR_FUNCTION);
  // Deliveries are the bench's own; none from the emulator meanwhile.
  await emulator(stack).setWebhooks({ auto: false });
  const base = await startBaseGateway(stack.dbUrl);

  try {
    const floor = rpcRequest(stack.apiUrl, stack.serviceRoleKey, "bench_floor");
    const guest = guestBody({ items: [{ product_id: FILTERS, quantity: 1 }] });
    const finishedKey = crypto.randomUUID();
    const first = await callCheckout(stack, "guest-checkout", { key: finishedKey, body: guest });
    if (first.status !== 201) throw new Error(`the first checkout answered ${first.text}`);
    const replay = checkoutRequest(stack, "guest-checkout", guest, {
      "idempotency-key": finishedKey,
    });
    const fresh = checkoutRequest(stack, "guest-checkout", guest);
    const user = await stack.mintUserToken({
      sub: crypto.randomUUID(),
      email: "bench@example.com",
    });
    const enhanced = checkoutRequest(
      stack,
      "enhanced-checkout",
      userBody({ items: [{ product_id: FILTERS, quantity: 1 }] }),
      { authorization: `Bearer ${user}` },
    );

    log("warming up");
    await latencies("warm-up floor", [floor], 200, { expectStatus: 200 });
    await latencies("warm-up replay", [replay], 200, { expectStatus: 200 });
    // The user's first checkout creates their Stripe Customer; the measured ones reuse it.
    await latencies("warm-up fresh", [fresh, enhanced], 40, { expectStatus: 201, freshKey: true });

    // Every latency in alternating rounds: a change in the machine's load (it is shared) falls
    // on all paths alike, and each ratio compares samples taken side by side.
    log("latencies");
    const baseFloor = base && rpcRequest(base.apiUrl, base.serviceRoleKey, "bench_floor");
    if (baseFloor) await latencies("warm-up base floor", [baseFloor], 200, { expectStatus: 200 });
    const deliveries = await paidDeliveries(stack, await pendingOrders(stack, FRESH_SAMPLES));
    const perRound = Math.ceil(deliveries.length / ROUNDS);
    const roundOf = (round: number) => deliveries.slice(round * perRound, (round + 1) * perRound);
    const [floorSamples, baseSamples, replaySamples, freshSamples, enhancedSamples, applied, dup] =
      await interleaved([
        { label: "floor", requests: () => [floor], count: SAMPLES, expectStatus: 200 },
        {
          label: "base floor",
          requests: () => (baseFloor ? [baseFloor] : []),
          count: SAMPLES,
          expectStatus: 200,
        },
        { label: "replay", requests: () => [replay], count: SAMPLES, expectStatus: 200 },
        {
          label: "fresh guest checkout",
          requests: () => [fresh],
          count: FRESH_SAMPLES,
          expectStatus: 201,
          freshKey: true,
        },
        {
          label: "fresh enhanced checkout",
          requests: () => [enhanced],
          count: FRESH_SAMPLES,
          expectStatus: 201,
          freshKey: true,
        },
        // Each round pays its own orders, then delivers the same events again.
        { label: "webhook apply", requests: roundOf, count: deliveries.length, expectStatus: 200 },
        {
          label: "duplicate delivery",
          requests: roundOf,
          count: deliveries.length,
          expectStatus: 200,
        },
      ]);
    const [{ paid } = { paid: 0 }] = await stack.sql<{ paid: number }[]>`
      select count(*)::int as paid from public.orders where status = 'paid'`;
    if (paid !== deliveries.length) {
      throw new Error(`${deliveries.length} deliveries paid ${paid} orders`);
    }
    const floorP50 = percentile(floorSamples ?? [], 50);
    const latencyRow = (label: string, samples: number[] = [], goal: string, limit?: number) => {
      const p50 = percentile(samples, 50);
      rows.push({
        metric: `${label} p50 / p99`,
        value: `${ms(p50)} / ${ms(percentile(samples, 99))} (${ratio(p50 / floorP50)} floor)`,
        goal,
        met: limit === undefined ? undefined : p50 <= limit * floorP50,
      });
    };
    latencyRow("bare RPC floor (`select 1`)", floorSamples, "—");
    if (baseSamples && baseSamples.length > 0) {
      const baseP50 = percentile(baseSamples, 50);
      rows.push({
        metric: `floor of ${BASE_COMMIT} (side by side) p50 / p99`,
        value: `${ms(baseP50)} / ${ms(percentile(baseSamples, 99))} (now ${
          ratio(floorP50 / baseP50)
        } of it)`,
        goal: "now ≤ 0.5× of it",
        met: floorP50 <= 0.5 * baseP50,
      });
    }
    latencyRow("replay", replaySamples, "≤ 1.5× floor", 1.5);
    latencyRow("fresh guest checkout", freshSamples, "≤ 3× floor", 3);
    latencyRow("fresh enhanced checkout (returning user)", enhancedSamples, "—");
    latencyRow("webhook delivery applied", applied, "—");
    latencyRow("duplicate delivery", dup, "—");

    // Replay with 10³ stored keys, before the throughput runs add thousands more.
    const smallKeys = await fillKeys(stack, SMALL_KEYS);
    const [floorSmall = [], replaySmall = []] = await interleaved([
      { label: "floor", requests: () => [floor], count: SAMPLES, expectStatus: 200 },
      { label: "replay", requests: () => [replay], count: SAMPLES, expectStatus: 200 },
    ]);

    log(`throughput, ${IN_FLIGHT} in flight`);
    const floorRate = await throughput("floor", [floor], REQUESTS, { expectStatus: 200 });
    const replayRate = await throughput("replay", [replay], REQUESTS, { expectStatus: 200 });
    const freshRate = await throughput("fresh guest checkout", [fresh], SLOW_REQUESTS, {
      expectStatus: 201,
      freshKey: true,
    });
    const webhookOrders = await pendingOrders(stack, SLOW_REQUESTS);
    const webhookRate = await throughput(
      "webhook apply",
      await paidDeliveries(stack, webhookOrders),
      SLOW_REQUESTS,
      { expectStatus: 200 },
    );
    rows.push({
      metric: `floor throughput, ${IN_FLIGHT} in flight`,
      value: perSecond(floorRate),
      goal: "—",
    });
    if (baseFloor) {
      const baseRate = await throughput(`floor of ${BASE_COMMIT}`, [baseFloor], REQUESTS, {
        expectStatus: 200,
      });
      rows.push({
        metric: `floor throughput of ${BASE_COMMIT}`,
        value: perSecond(baseRate),
        goal: "—",
      });
    }
    rows.push({
      metric: `replay throughput, ${IN_FLIGHT} in flight`,
      value: `${perSecond(replayRate)} (${ratio(replayRate / floorRate)} floor's)`,
      goal: "≥ 0.6× floor's and ≥ 2,500/s",
      met: replayRate >= 0.6 * floorRate && replayRate >= 2500,
    });
    rows.push({
      metric: `fresh guest checkout throughput, ${IN_FLIGHT} in flight`,
      value: perSecond(freshRate),
      goal: "—",
    });
    rows.push({
      metric: `webhook apply throughput, ${IN_FLIGHT} in flight`,
      value: perSecond(webhookRate),
      goal: "—",
    });

    log("where a replay's time goes");
    await breakdown(stack, { replay, guest, finishedKey });

    log(`${KEYS.toLocaleString("en-US")} stored keys`);
    const stored = await fillKeys(stack, KEYS);
    const [floorLarge = [], replayLarge = []] = await interleaved([
      { label: "floor", requests: () => [floor], count: SAMPLES, expectStatus: 200 },
      { label: "replay", requests: () => [replay], count: SAMPLES, expectStatus: 200 },
    ]);
    // Against the floor measured alongside, so a change in the machine's load between the two
    // measurements does not pass for an effect of the table's size.
    const small = percentile(replaySmall, 50) / percentile(floorSmall, 50);
    const large = percentile(replayLarge, 50) / percentile(floorLarge, 50);
    rows.push({
      metric: `replay p50, ${smallKeys.toLocaleString("en-US")} → ${
        stored.toLocaleString("en-US")
      } stored keys`,
      value: `${ms(percentile(replaySmall, 50))} → ${ms(percentile(replayLarge, 50))}; ${
        ratio(small)
      } → ${ratio(large)} floor (${ratio(large / small)})`,
      goal: "≤ 1.2×",
      met: large <= 1.2 * small,
    });

    log("cleanup");
    const cleanupStarted = performance.now();
    let deleted = 0;
    let batches = 0;
    for (;;) {
      const [result] = await stack.sql<{ deleted_request_keys: number }[]>`
        select deleted_request_keys
        from public.cleanup_expired_idempotency_keys(${CLEANUP_BATCH})`;
      batches++;
      deleted += result?.deleted_request_keys ?? 0;
      if ((result?.deleted_request_keys ?? 0) < CLEANUP_BATCH) break;
    }
    const cleanupSeconds = (performance.now() - cleanupStarted) / 1000;
    rows.push({
      metric: `clean ${deleted.toLocaleString("en-US")} expired keys, batches of ${CLEANUP_BATCH}`,
      value: `${cleanupSeconds.toFixed(1)} s (${batches} calls, ${
        ms((cleanupSeconds * 1000) / batches)
      } each)`,
      goal: "—",
    });

    log("memory");
    await memory(stack, replay);
  } finally {
    load.close();
    await base?.stop();
  }

  const minutes = (performance.now() - started) / 60_000;
  notes.push(
    `${new Date().toISOString().slice(0, 10)}, ${navigator.hardwareConcurrency} cores, load ` +
      `average ${loadAverage?.toFixed(2)} at the start, ${minutes.toFixed(1)} min in all.`,
  );
  report();
}

/** Where a replay's time goes, each hop as the difference of two paths measured side by side. */
async function breakdown(stack: TestStack, context: {
  replay: RequestSpec;
  guest: Record<string, unknown>;
  finishedKey: string;
}): Promise<void> {
  const direct = stack.functionProcess("guest-checkout").url;
  if (!direct) throw new Error("guest-checkout is not running");
  const [key] = await stack.sql<{ request_fingerprint: string }[]>`
    select request_fingerprint from public.idempotency_keys
    where scope = 'guest' and key = ${context.finishedKey}`;
  if (!key) throw new Error("the finished key is not stored");
  // A replay's one RPC: claim_and_begin_checkout, answered by the claim alone.
  const guest = context.guest as { items: unknown; success_url: string; cancel_url: string };
  const claimArgs = {
    p_scope: "guest",
    p_idempotency_key: context.finishedKey,
    p_request_fingerprint: key.request_fingerprint,
    p_items: guest.items,
    p_success_url: guest.success_url,
    p_cancel_url: guest.cancel_url,
    p_lease_seconds: 60,
    p_ttl_seconds: 86400,
  };
  const rejected = checkoutRequest(stack, "guest-checkout", {
    ...context.guest,
    unknown_field: 1,
  }, { "idempotency-key": crypto.randomUUID() });
  const samples = await interleaved([
    { label: "replay", requests: () => [context.replay], count: SAMPLES, expectStatus: 200 },
    // The same replay at the function's own port, past the gateway.
    {
      label: "replay at the function's port",
      requests: () => [{ ...context.replay, url: `${direct}/guest-checkout` }],
      count: SAMPLES,
      expectStatus: 200,
    },
    // The replay's one RPC, sent as the function sends it.
    {
      label: "claim RPC",
      requests: () => [
        rpcRequest(stack.apiUrl, stack.serviceRoleKey, "claim_and_begin_checkout", claimArgs),
      ],
      count: SAMPLES,
      expectStatus: 200,
    },
    { label: "rejected request", requests: () => [rejected], count: SAMPLES, expectStatus: 400 },
  ]);
  const [replay, atPort, claimRpc, rejection] = samples.map((s) => percentile(s, 50));
  const sqlTimes = async (query: string) => {
    const times: number[] = [];
    for (let i = 0; i < SAMPLES; i++) {
      const t0 = performance.now();
      await stack.sql.unsafe(query);
      times.push(performance.now() - t0);
    }
    return percentile(times, 50);
  };
  // What the RPC endpoint sends for the claim, sent straight from here.
  const claimSql = await sqlTimes(
    `select set_config('role', 'service_role', true);
     select to_json(r)::text from public.claim_and_begin_checkout('guest',
       '${context.finishedKey}', '${key.request_fingerprint}',
       '${JSON.stringify(guest.items).replaceAll("'", "''")}', '${guest.success_url}',
       '${guest.cancel_url}', p_lease_seconds => 60, p_ttl_seconds => 86400) r`,
  );
  const selectOne = await sqlTimes("select 1");
  if (
    replay === undefined || atPort === undefined || claimRpc === undefined ||
    rejection === undefined
  ) {
    throw new Error("a breakdown path has no samples");
  }
  const step = (metric: string, value: number, of: string) =>
    rows.push({ metric: `· ${metric}`, value: `${ms(value)} ${of}`, goal: "(profile)" });
  rows.push({
    metric: "where a replay's p50 goes (paths side by side)",
    value: `${ms(replay)} in all`,
    goal: "(profile)",
  });
  step("client → gateway → function hop", replay - atPort, "(replay − at port)");
  step(
    "function process: its hop in, validation, fingerprint, supabase-js",
    atPort - claimRpc,
    "(at port − claim RPC)",
  );
  step("RPC endpoint + its HTTP hop", claimRpc - claimSql, "(claim RPC − same SQL direct)");
  step("Postgres: claim, one round trip", claimSql, `(select 1 alone: ${ms(selectOne)})`);
  step("gateway + function, no database", rejection, "(a request rejected by validation)");
}

/** The function's RSS after RSS_STEP and 2 × RSS_STEP requests served since it started. */
async function memory(stack: TestStack, replay: RequestSpec): Promise<void> {
  const pid = stack.functionProcess("guest-checkout").pid;
  if (!pid) throw new Error("guest-checkout is not running");
  const served = () => stack.counters.functions("guest-checkout");
  const readings: number[] = [];
  for (const target of [RSS_STEP, 2 * RSS_STEP]) {
    const missing = target - served();
    if (missing > 0) {
      await throughput(`replays up to ${target} requests`, [replay], missing, {
        expectStatus: 200,
      });
    }
    readings.push(await rssMb(pid));
  }
  const [first = NaN, second = NaN] = readings;
  rows.push({
    metric: `guest-checkout RSS after ${RSS_STEP.toLocaleString("en-US")} → ${
      (2 * RSS_STEP).toLocaleString("en-US")
    } requests`,
    value: `${first.toFixed(1)} → ${second.toFixed(1)} MB (${
      (((second - first) / first) * 100).toFixed(1)
    } %; ${EDGE_FUNCTION_MEMORY_MB} MB on Supabase)`,
    goal: "≤ +10 %, < 150 MB",
    met: second <= first * 1.1 && second < 150,
  });
}

function report(): void {
  const header = ["metric", "measured", "goal", ""];
  const body = rows.map((row) => [
    row.metric,
    row.value,
    row.goal,
    row.met === undefined ? "" : row.met ? "met" : "MISSED",
  ]);
  const widths = header.map((_, i) => Math.max(...[header, ...body].map((r) => r[i]?.length ?? 0)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join("  ");
  console.log(line(header));
  for (const cells of body) console.log(line(cells));
  for (const note of notes) console.log(note);

  const markdown = [
    `| ${header.join(" | ")} |`,
    `| ${header.map(() => "---").join(" | ")} |`,
    ...body.map((cells) => `| ${cells.map((cell) => cell.replaceAll("|", "\\|")).join(" | ")} |`),
    "",
    ...notes,
    "",
  ].join("\n");
  Deno.mkdirSync(`${PROJECT_ROOT}/test-artifacts`, { recursive: true });
  Deno.writeTextFileSync(OUTPUT, markdown);
  console.log(`written to ${OUTPUT}`);
}

if (import.meta.main) await main();
