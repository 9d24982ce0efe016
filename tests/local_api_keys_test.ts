import assert from "node:assert/strict";
import * as jose from "npm:jose@6.2.17";
import { createDemoRoutes } from "../local/demo/routes.ts";
import { generateSigningJwk } from "../local/stack/keys.ts";
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import { startTestStack, type TestStack } from "./harness.ts";

/**
 * The local stack's keys, as a current hosted project has them: the JWKS it serves, the
 * `sb_publishable_…` / `sb_secret_…` keys the gateway maps to anon / service_role, the legacy
 * keys beside them, the signing key from a file, and CORS for the allowed origins only.
 */

const WHOAMI = `
  create function public.t_whoami() returns jsonb language sql stable as $$
    select jsonb_build_object('role', auth.role(), 'db_role', current_user, 'uid', auth.uid())
  $$;
  create function public.t_internal() returns text language sql as $$ select 'internal' $$;
  revoke execute on function public.t_internal() from public, anon, authenticated;
  grant execute on function public.t_internal() to service_role;
`;

/** Gateway and Postgres only: no functions, no emulator. */
async function keysStack(options: Parameters<typeof startTestStack>[0] = {}): Promise<TestStack> {
  const stack = await startTestStack({
    functions: [],
    stripeApiBase: "http://127.0.0.1:9",
    ...options,
  });
  await stack.sql.unsafe(WHOAMI);
  return stack;
}

/** Untyped: these tests call functions of their own, not the project's. */
function supabaseClient(stack: TestStack, key: string) {
  return createClient(stack.apiUrl, key, {
    auth: { persistSession: false, autoRefreshToken: false },
  });
}

function rpc(stack: TestStack, name: string, headers: Record<string, string>) {
  return fetch(`${stack.apiUrl}/rest/v1/rpc/${name}`, { method: "POST", headers });
}

async function dbRole(response: Response): Promise<string> {
  const body = await response.json();
  assert.equal(response.status, 200, JSON.stringify(body));
  return body.db_role;
}

Deno.test("the gateway maps sb_publishable to anon and sb_secret to service_role, apikey or Bearer", async () => {
  await using stack = await keysStack();
  assert.match(stack.publishableKey, /^sb_publishable_/);
  assert.match(stack.secretKey, /^sb_secret_/);

  const asRole: [string, Record<string, string>, string][] = [
    ["sb_secret_ in apikey", { apikey: stack.secretKey }, "service_role"],
    ["sb_secret_ as Bearer", { authorization: `Bearer ${stack.secretKey}` }, "service_role"],
    ["sb_publishable_ in apikey", { apikey: stack.publishableKey }, "anon"],
    ["sb_publishable_ as Bearer", { authorization: `Bearer ${stack.publishableKey}` }, "anon"],
    ["legacy anon key", { apikey: stack.anonKey }, "anon"],
    ["legacy service_role key", {
      apikey: stack.serviceRoleKey,
      authorization: `Bearer ${stack.serviceRoleKey}`,
    }, "service_role"],
    ["publishable key and a user's ES256 token", {
      apikey: stack.publishableKey,
      authorization: `Bearer ${await stack.mintUserToken({ sub: crypto.randomUUID() })}`,
    }, "authenticated"],
  ];
  for (const [label, headers, role] of asRole) {
    assert.equal(await dbRole(await rpc(stack, "t_whoami", headers)), role, label);
  }

  // supabase-js sends a new key in `apikey` only.
  const secret = await supabaseClient(stack, stack.secretKey).rpc("t_internal");
  assert.equal(secret.error, null);
  assert.equal(secret.data, "internal");
  const publishable = await supabaseClient(stack, stack.publishableKey).rpc("t_internal");
  assert.equal(publishable.status, 401, "anon may not run an internal function");
  assert.equal(publishable.error?.code, "42501");
  const realInternal = await supabaseClient(stack, stack.publishableKey).rpc(
    "cleanup_expired_idempotency_keys",
  );
  assert.ok(realInternal.error, "the project's internal functions are refused to anon");
  assert.equal(realInternal.status, 401);
});

Deno.test("a wrong sb_ key is 401 whatever else the request carries", async () => {
  await using stack = await keysStack();
  const wrongSecret = `sb_secret_${"x".repeat(32)}`;
  const cases: [string, Record<string, string>][] = [
    ["wrong sb_secret_ in apikey", { apikey: wrongSecret }],
    ["wrong sb_secret_ as Bearer", { authorization: `Bearer ${wrongSecret}` }],
    ["wrong sb_publishable_", { apikey: `sb_publishable_${"y".repeat(32)}` }],
    ["wrong apikey beside a valid secret Bearer", {
      apikey: wrongSecret,
      authorization: `Bearer ${stack.secretKey}`,
    }],
    ["a secret key with a character changed", {
      apikey: `${stack.secretKey.slice(0, -1)}${stack.secretKey.endsWith("A") ? "B" : "A"}`,
    }],
  ];
  for (const [label, headers] of cases) {
    const response = await rpc(stack, "t_whoami", headers);
    assert.equal(response.status, 401, label);
    assert.equal((await response.json()).message, "Invalid API key", label);
  }
  const viaClient = await supabaseClient(stack, wrongSecret).rpc("t_internal");
  assert.equal(viaClient.status, 401);
});

Deno.test("the JWKS is served without private parts and verifies the stack's user tokens", async () => {
  await using stack = await keysStack();
  assert.equal(stack.jwksUrl, `${stack.apiUrl}/auth/v1/.well-known/jwks.json`);
  const response = await fetch(stack.jwksUrl);
  assert.equal(response.status, 200);
  const jwks = await response.json() as jose.JSONWebKeySet;
  assert.equal(jwks.keys.length, 1);
  const [key] = jwks.keys;
  assert.equal(key?.alg, "ES256");
  assert.equal(key?.kty, "EC");
  for (const member of ["d", "p", "q", "k"]) assert.ok(!(member in (key ?? {})), member);
  const token = await stack.mintUserToken({ sub: crypto.randomUUID() });
  const { protectedHeader, payload } = await jose.jwtVerify(token, jose.createLocalJWKSet(jwks), {
    issuer: `${stack.apiUrl}/auth/v1`,
    audience: "authenticated",
  });
  assert.equal(protectedHeader.kid, key?.kid);
  assert.equal(payload.role, "authenticated");
});

Deno.test("the signing key comes from SUPABASE_SIGNING_KEYS_PATH or config.toml, else is fresh", async () => {
  const dir = await Deno.makeTempDir({ prefix: "ic-keys-" });
  try {
    const fromConfig = await generateSigningJwk();
    const fromEnv = await generateSigningJwk();
    await Deno.writeTextFile(`${dir}/config_keys.json`, JSON.stringify([fromConfig]));
    await Deno.writeTextFile(`${dir}/env_keys.json`, JSON.stringify([fromEnv]));
    await Deno.writeTextFile(
      `${dir}/config.toml`,
      `[auth]\nsigning_keys_path = "./config_keys.json"\n`,
    );
    const kidOf = async (options: Parameters<typeof keysStack>[0]) => {
      await using stack = await keysStack(options);
      const token = await stack.mintUserToken({ sub: crypto.randomUUID() });
      const kid = jose.decodeProtectedHeader(token).kid;
      assert.equal(kid, stack.jwks.keys[0]?.kid);
      // The gateway verifies what it signs.
      assert.equal(
        await dbRole(await rpc(stack, "t_whoami", { authorization: `Bearer ${token}` })),
        "authenticated",
      );
      return kid;
    };
    assert.equal(await kidOf({ configToml: `${dir}/config.toml` }), fromConfig.kid);
    assert.equal(
      await kidOf({ configToml: `${dir}/config.toml`, signingKeysPath: `${dir}/env_keys.json` }),
      fromEnv.kid,
      "the env variable wins over config.toml",
    );
    const fresh = await kidOf({});
    assert.ok(fresh && fresh !== fromConfig.kid && fresh !== fromEnv.kid);

    await Deno.writeTextFile(`${dir}/bad.json`, JSON.stringify({ keys: [] }));
    await assert.rejects(
      keysStack({ signingKeysPath: `${dir}/bad.json` }),
      new RegExp(`${dir}/bad.json must be a JSON array of private JWKs`),
    );
    const { d: _d, ...publicOnly } = fromEnv;
    await Deno.writeTextFile(`${dir}/public.json`, JSON.stringify([publicOnly]));
    await assert.rejects(keysStack({ signingKeysPath: `${dir}/public.json` }), /not a private key/);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("the gateway's CORS answers only ALLOWED_ORIGINS", async () => {
  await using stack = await keysStack({ allowedOrigins: "https://shop.example" });
  const preflight = (origin: string) =>
    fetch(`${stack.apiUrl}/rest/v1/rpc/t_whoami`, {
      method: "OPTIONS",
      headers: {
        origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": "apikey, content-type",
      },
    });
  const allowed = await preflight("https://shop.example");
  await allowed.body?.cancel();
  assert.equal(allowed.headers.get("access-control-allow-origin"), "https://shop.example");
  const own = await preflight(new URL(stack.apiUrl).origin);
  await own.body?.cancel();
  assert.equal(own.headers.get("access-control-allow-origin"), new URL(stack.apiUrl).origin);

  const evil = await preflight("https://evil.example");
  await evil.body?.cancel();
  assert.equal(evil.headers.get("access-control-allow-origin"), null);
  assert.equal(evil.headers.get("access-control-allow-credentials"), null);
  const post = await rpc(stack, "t_whoami", {
    origin: "https://evil.example",
    apikey: stack.serviceRoleKey,
  });
  await post.body?.cancel();
  assert.equal(post.headers.get("access-control-allow-origin"), null);
});

Deno.test("the demo hands out the publishable key and ES256 tokens of the stack", async () => {
  await using stack = await keysStack();
  const demo = createDemoRoutes();
  demo.attach(stack);
  const config = await (await demo.handle(new Request("http://x/local/demo/config.json")))?.json();
  assert.equal(config.publishableKey, stack.publishableKey);
  assert.equal(config.anonKey, undefined);
  const answer = await demo.handle(new Request("http://x/local/demo/token", { method: "POST" }));
  const { access_token: token } = await answer?.json();
  assert.equal(jose.decodeProtectedHeader(token).alg, "ES256");
  await jose.jwtVerify(token, jose.createLocalJWKSet(stack.jwks as jose.JSONWebKeySet));
});
