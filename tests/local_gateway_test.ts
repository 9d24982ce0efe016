import assert from "node:assert/strict";
import { mintUserToken } from "../local/stack/jwt.ts";
import { FIXTURE_FUNCTIONS_DIR, startTestStack, type TestStack } from "./harness.ts";

/**
 * The gateway in front of real function processes. The functions are fixtures (echo
 * stand-ins named like the real ones, tests/fixtures/functions), so these tests pin the
 * stack's behaviour whatever state the real functions are in; verify_jwt comes from the
 * real supabase/config.toml unless a test passes its own.
 */

const FIXTURE_CONFIG = new URL("./fixtures/config.toml", import.meta.url).pathname;

function fixtureStack(extra: Parameters<typeof startTestStack>[0] = {}): Promise<TestStack> {
  return startTestStack({
    functionsDir: FIXTURE_FUNCTIONS_DIR,
    functionEnv: { IC_FIXTURE_EXTRA: "extra-value" },
    ...extra,
  });
}

function call(
  stack: TestStack,
  path: string,
  init: RequestInit & { token?: string } = {},
): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.token !== undefined) headers.set("authorization", `Bearer ${init.token}`);
  return fetch(`${stack.functionsUrl}/${path}`, { ...init, headers });
}

async function json(response: Response): Promise<Record<string, unknown>> {
  return await response.json() as Record<string, unknown>;
}

/** The platform's verify_jwt gate knows only the legacy secret, so it gets legacy tokens. */
function legacyUserToken(
  stack: TestStack,
  opts: { sub: string; expiresIn?: number; email?: string },
) {
  return mintUserToken({ ...opts, issuer: `${stack.apiUrl}/auth/v1` }, stack.jwtSecret);
}

// enhanced-checkout is not listed in the fixture config.toml: verify_jwt defaults to true.
Deno.test("verify_jwt rejects missing, garbage, expired, forged and alg:none tokens with 401", async () => {
  await using stack = await fixtureStack({ configToml: FIXTURE_CONFIG });
  const expired = await legacyUserToken(stack, { sub: crypto.randomUUID(), expiresIn: -10 });
  const forged = await mintUserToken(
    { sub: crypto.randomUUID() },
    "a-different-secret-of-at-least-thirty-two-chars",
  );
  const header = btoa(JSON.stringify({ alg: "none", typ: "JWT" })).replace(/=+$/, "");
  const claims = btoa(JSON.stringify({ sub: crypto.randomUUID(), role: "authenticated" }))
    .replace(/=+$/, "");
  const unsigned = `${header}.${claims}.`;
  const cases: [string, string | undefined][] = [
    ["missing", undefined],
    ["garbage", "garbage"],
    ["expired", expired],
    ["forged", forged],
    ["alg none", unsigned],
  ];
  for (const [label, token] of cases) {
    const response = await call(stack, "enhanced-checkout", {
      method: "POST",
      body: "{}",
      token,
    });
    assert.equal(response.status, 401, label);
    const body = await json(response);
    assert.equal(body.code, 401, label);
    assert.equal(typeof body.message, "string", label);
  }
  assert.equal(stack.counters.functions("enhanced-checkout"), cases.length);
});

Deno.test("verify_jwt lets a valid token through with its Authorization header intact", async () => {
  await using stack = await fixtureStack({ configToml: FIXTURE_CONFIG });
  const token = await legacyUserToken(stack, { sub: crypto.randomUUID(), email: "a@example.com" });
  const response = await call(stack, "enhanced-checkout", {
    method: "POST",
    body: JSON.stringify({ hello: "world" }),
    headers: { "content-type": "application/json" },
    token,
  });
  assert.equal(response.status, 201);
  const body = await json(response);
  assert.equal(body.authorization, `Bearer ${token}`);
  assert.equal(body.body, JSON.stringify({ hello: "world" }));
  assert.equal(body.path, "/enhanced-checkout", "Supabase strips /functions/v1");

  // Supabase's gate only checks the signature: the anon key passes too.
  const anon = await call(stack, "enhanced-checkout", { token: stack.anonKey });
  assert.equal(anon.status, 200);
  await anon.body?.cancel();

  // Preflights never carry credentials, so they reach the function.
  const preflight = await call(stack, "enhanced-checkout", { method: "OPTIONS" });
  assert.equal(preflight.status, 200);
  await preflight.body?.cancel();
});

Deno.test("a verify_jwt=false function is proxied as is: method, path, query, body, status, headers", async () => {
  await using stack = await fixtureStack();
  const big = "x".repeat(1_000_000);
  const response = await call(stack, "guest-checkout/some/path?a=1&b=two", {
    method: "POST",
    body: big,
    headers: { "content-type": "text/plain" },
  });
  assert.equal(response.status, 201);
  assert.equal(response.headers.get("x-echo"), "1");
  const body = await json(response);
  assert.equal(body.method, "POST");
  assert.equal(body.path, "/guest-checkout/some/path");
  assert.equal(body.search, "?a=1&b=two");
  assert.equal(body.authorization, null);
  assert.equal(body.contentType, "text/plain");
  assert.equal((body.body as string).length, big.length);
  assert.equal(stack.counters.functions("guest-checkout"), 1);
  assert.equal(stack.counters.functions(), 1);
});

Deno.test("functions get the stack's env and reach the database through the gateway's RPC", async () => {
  await using stack = await fixtureStack();
  const env = await json(await call(stack, "stripe-webhook/env"));
  assert.equal(env.SUPABASE_URL, stack.apiUrl);
  assert.equal(env.SUPABASE_ANON_KEY, stack.anonKey);
  assert.equal(env.SUPABASE_SERVICE_ROLE_KEY, stack.serviceRoleKey);
  assert.equal(env.SUPABASE_JWT_SECRET, stack.jwtSecret);
  assert.equal(env.SUPABASE_DB_URL, stack.dbUrl);
  assert.equal(env.STRIPE_SECRET_KEY, stack.stripeSecretKey);
  assert.equal(env.STRIPE_API_BASE, stack.stripeUrl);
  assert.equal(env.STRIPE_WEBHOOK_SECRET, stack.webhookSecret);
  assert.match(String(env.ALLOWED_ORIGINS), /http:\/\/localhost:3000/);
  assert.equal(env.IC_FIXTURE_EXTRA, "extra-value");
  assert.ok(stack.emulator, "without stripeApiBase the stack starts the emulator");
  assert.equal(stack.stripeUrl, stack.emulator.url);

  await stack.sql`
    create function public.whoami() returns text language sql as $$ select current_user::text $$`;
  stack.counters.reset();
  const rpc = await json(await call(stack, "guest-checkout/rpc"));
  assert.deepEqual(rpc, { data: "service_role", error: null });
  assert.equal(stack.counters.rpc("whoami"), 1);
  assert.equal(stack.counters.functions("guest-checkout"), 1);
});

Deno.test("a killed function answers 503 until it is started again", async () => {
  await using stack = await fixtureStack();
  const before = await json(await call(stack, "guest-checkout"));
  const health = await fetch(`${stack.apiUrl}/health`);
  assert.equal(health.status, 200);
  assert.deepEqual((await health.json()).functions, {
    "enhanced-checkout": "up",
    "guest-checkout": "up",
    "stripe-webhook": "up",
  });

  await stack.killFunction("guest-checkout");
  const down = await call(stack, "guest-checkout", { method: "POST", body: "{}" });
  assert.equal(down.status, 503);
  assert.equal((await json(down)).code, "BOOT_ERROR");
  const unhealthy = await fetch(`${stack.apiUrl}/health`);
  assert.equal(unhealthy.status, 503);
  assert.equal((await unhealthy.json()).functions["guest-checkout"], "down");
  assert.throws(() => Deno.kill(before.pid as number, "SIGCONT"), "the old process is gone");

  await stack.startFunction("guest-checkout");
  const after = await json(await call(stack, "guest-checkout"));
  assert.notEqual(after.pid, before.pid);
  assert.equal((await fetch(`${stack.apiUrl}/health`)).status, 200);
});

Deno.test("a function killed mid-request fails that request, not the gateway", async () => {
  await using stack = await fixtureStack();
  const pending = call(stack, "guest-checkout/slow?ms=5000");
  await new Promise((resolve) => setTimeout(resolve, 300));
  await stack.killFunction("guest-checkout");
  const response = await pending;
  assert.ok(response.status >= 500, `got ${response.status}`);
  await response.body?.cancel();
});

Deno.test("the gateway honours a given config.toml and unknown routes answer 404 JSON", async () => {
  await using stack = await fixtureStack({
    configToml: FIXTURE_CONFIG,
    extraRoutes: (request) =>
      new URL(request.url).pathname === "/" ? new Response("demo page") : undefined,
  });
  const guarded = await call(stack, "guest-checkout", { method: "POST", body: "{}" });
  assert.equal(guarded.status, 401);
  await guarded.body?.cancel();
  // Not listed in the fixture config: Supabase's default, verify_jwt = true.
  const unlisted = await call(stack, "enhanced-checkout");
  assert.equal(unlisted.status, 401);
  await unlisted.body?.cancel();

  const missing = await call(stack, "no-such-function");
  assert.equal(missing.status, 404);
  assert.equal(typeof (await json(missing)).message, "string");
  const other = await fetch(`${stack.apiUrl}/nowhere`);
  assert.equal(other.status, 404);
  assert.equal((await json(other)).code, "not_found");
  const table = await fetch(`${stack.apiUrl}/rest/v1/products`);
  assert.equal(table.status, 404);
  await table.body?.cancel();

  const demo = await fetch(`${stack.apiUrl}/`);
  assert.equal(await demo.text(), "demo page");
});

Deno.test("a taken port fails the start with a message naming the port and its variable", async () => {
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = taken.addr;
  const cases = [
    { options: { port }, variable: "PORT" },
    { options: { emulatorPort: port }, variable: "STRIPE_EMULATOR_PORT" },
  ];
  for (const { options, variable } of cases) {
    await assert.rejects(
      fixtureStack({ functions: [], ...options }),
      (error: Error) => {
        assert.match(error.message, new RegExp(`127\\.0\\.0\\.1:${port}\\b`));
        assert.match(error.message, new RegExp(`\\b${variable}\\b`));
        assert.match(error.message, /already in use/);
        return true;
      },
      variable,
    );
  }
});
