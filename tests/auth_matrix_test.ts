import assert from "node:assert/strict";
import * as jose from "npm:jose@6.2.17";
import { mintUserToken } from "../local/stack/jwt.ts";
import { generateSigningJwk, importSigningKey } from "../local/stack/keys.ts";
import { createUserVerifier } from "../supabase/functions/_shared/auth.ts";
import { enhancedCheckoutDeps } from "../supabase/functions/_shared/enhanced_checkout_deps.ts";
import { createEnhancedCheckoutHandler } from "../supabase/functions/_shared/checkout_flow.ts";
import { parseConfig } from "../supabase/functions/_shared/config.ts";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  callCheckout,
  guestBody,
  INTEGRATION,
  SHOP,
  userBody,
  writtenRows,
} from "./checkout_helpers.ts";

/**
 * enhanced-checkout's authentication end to end: real function processes behind the gateway,
 * configured as a current hosted project configures them (verify_jwt = false, SUPABASE_JWKS,
 * SUPABASE_SECRET_KEYS), and with only the new or only the legacy variables.
 */

/** A legacy HS256 user token, as a project on the JWT secret issues it. */
function legacyToken(stack: TestStack, opts: { sub?: string; email?: string } = {}) {
  return mintUserToken(
    { sub: opts.sub ?? crypto.randomUUID(), email: opts.email, issuer: `${stack.apiUrl}/auth/v1` },
    stack.jwtSecret,
  );
}

const stackKid = (stack: TestStack) => String(stack.jwks.keys[0]?.kid);

async function foreignSigner(kid?: string) {
  const jwk = await generateSigningJwk();
  return await importSigningKey(kid ? { ...jwk, kid } : jwk, "a foreign key");
}

async function assertRefused(stack: TestStack, label: string, token: string | undefined) {
  const before = await writtenRows(stack);
  const rpcBefore = stack.counters.rpc();
  const answer = await callCheckout(stack, "enhanced-checkout", { token, body: userBody() });
  assert.equal(answer.status, 401, `${label}: ${answer.text}`);
  assert.deepEqual(answer.json, {
    error: { code: "unauthorized", message: "Sign in: a valid user access token is required." },
  }, label);
  assert.deepEqual(await writtenRows(stack), before, `${label}: nothing written`);
  assert.equal(stack.counters.rpc(), rpcBefore, `${label}: not one database call`);
}

async function assertServed(
  stack: TestStack,
  label: string,
  fn: "guest-checkout" | "enhanced-checkout",
  token?: string,
) {
  const answer = await callCheckout(stack, fn, {
    token,
    body: fn === "guest-checkout" ? guestBody() : userBody(),
  });
  assert.equal(answer.status, 201, `${label}: ${answer.text}`);
}

Deno.test("enhanced-checkout: the auth matrix of a current project", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  const sub = crypto.randomUUID();
  const now = Math.floor(Date.now() / 1000);
  const iss = `${stack.apiUrl}/auth/v1`;
  const claims = { sub, role: "authenticated", aud: "authenticated", iss, exp: now + 600 };
  const publicJwk = stack.jwks.keys[0] ?? {};
  const publicKey = await jose.importJWK(publicJwk as jose.JWK, "ES256");
  assert.ok(publicKey instanceof CryptoKey);
  const hs256 = (secret: string) =>
    new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", kid: stackKid(stack) })
      .sign(new TextEncoder().encode(secret));
  const unsigned = [{ alg: "none", kid: stackKid(stack), typ: "JWT" }, claims]
    .map((part) => jose.base64url.encode(JSON.stringify(part))).join(".") + ".";

  const refused: [string, string | undefined][] = [
    ["missing", undefined],
    ["garbage", "garbage"],
    ["three garbage segments", "a.b.c"],
    [
      "another ES256 key, its own kid",
      await mintUserToken({ sub, issuer: iss }, await foreignSigner()),
    ],
    [
      "another ES256 key claiming the stack's kid",
      await mintUserToken({ sub, issuer: iss }, await foreignSigner(stackKid(stack))),
    ],
    [
      "a kid the JWKS does not hold",
      await mintUserToken({ sub, issuer: iss }, await foreignSigner()),
    ],
    ["wrong issuer", await stack.mintUserToken({ sub, issuer: "https://evil.example/auth/v1" })],
    ["wrong audience", await stack.mintUserToken({ sub, audience: "anon" })],
    ["expired", await stack.mintUserToken({ sub, expiresInSeconds: -60 })],
    ["alg: none", unsigned],
    ["HS256 signed with the public key (PEM)", await hs256(await jose.exportSPKI(publicKey))],
    ["HS256 signed with the public JWK", await hs256(JSON.stringify(publicJwk))],
    ["an anonymous user", await stack.mintUserToken({ sub, isAnonymous: true })],
    ["a non-UUID sub", await stack.mintUserToken({ sub: "admin" })],
    ["role anon", await stack.mintUserToken({ sub, role: "anon" })],
    ["role service_role", await stack.mintUserToken({ sub, role: "service_role" })],
    ["the publishable key", stack.publishableKey],
    ["the secret key", stack.secretKey],
    ["the legacy anon key", stack.anonKey],
    ["the legacy service_role key", stack.serviceRoleKey],
  ];
  for (const [label, token] of refused) {
    await t.step(`${label} → 401 unauthorized, nothing written`, async () => {
      await assertRefused(stack, label, token);
    });
  }

  await t.step("a token signed with the stack's ES256 key → 201", async () => {
    const token = await stack.mintUserToken({ sub, email: "ada@example.com" });
    assert.equal(jose.decodeProtectedHeader(token).alg, "ES256");
    await assertServed(stack, "ES256", "enhanced-checkout", token);
  });

  await t.step("a legacy HS256 token → 201 while the legacy secret is set", async () => {
    await assertServed(stack, "legacy", "enhanced-checkout", await legacyToken(stack));
  });
});

Deno.test(
  "functions with only the new variables serve checkouts and refuse legacy tokens",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({
      functionEnv: {
        SUPABASE_ANON_KEY: undefined,
        SUPABASE_SERVICE_ROLE_KEY: undefined,
        SUPABASE_JWT_SECRET: undefined,
      },
    });
    await assertServed(stack, "guest", "guest-checkout");
    await assertServed(
      stack,
      "ES256 user",
      "enhanced-checkout",
      await stack.mintUserToken({
        sub: crypto.randomUUID(),
        email: "new@example.com",
      }),
    );
    await assertRefused(stack, "a legacy token without a legacy secret", await legacyToken(stack));
    await assertRefused(
      stack,
      "an anonymous user",
      await stack.mintUserToken({ sub: crypto.randomUUID(), isAnonymous: true }),
    );
  },
);

Deno.test(
  "functions with only the legacy variables serve checkouts; the JWKS comes from SUPABASE_URL",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({
      functionEnv: {
        SUPABASE_PUBLISHABLE_KEYS: undefined,
        SUPABASE_SECRET_KEYS: undefined,
        SUPABASE_JWKS: undefined,
        ALLOW_ANONYMOUS_USERS: "true",
      },
    });
    await assertServed(stack, "guest", "guest-checkout");
    await assertServed(stack, "legacy user", "enhanced-checkout", await legacyToken(stack));
    // No SUPABASE_JWKS: the function fetches <SUPABASE_URL>/auth/v1/.well-known/jwks.json.
    await assertServed(
      stack,
      "ES256 user",
      "enhanced-checkout",
      await stack.mintUserToken({ sub: crypto.randomUUID() }),
    );
    await assertServed(
      stack,
      "anonymous user with ALLOW_ANONYMOUS_USERS=true",
      "enhanced-checkout",
      await stack.mintUserToken({ sub: crypto.randomUUID(), isAnonymous: true }),
    );
  },
);

Deno.test(
  "an unreachable JWKS answers 503 with Retry-After, stores nothing, and the retry succeeds",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({ functions: [] });
    const config = parseConfig({
      SUPABASE_URL: stack.apiUrl,
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: stack.secretKey }),
      STRIPE_SECRET_KEY: stack.stripeSecretKey,
      STRIPE_API_BASE: stack.stripeUrl,
      ALLOWED_ORIGINS: SHOP,
    });
    const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const unreachable = `http://127.0.0.1:${closed.addr.port}`;
    closed.close();
    const down = createEnhancedCheckoutHandler({
      ...enhancedCheckoutDeps(config),
      verifyUser: createUserVerifier({ SUPABASE_URL: unreachable }),
    });
    const token = await stack.mintUserToken({
      sub: crypto.randomUUID(),
      issuer: `${unreachable}/auth/v1`,
    });
    const request = () =>
      new Request("http://local/enhanced-checkout", {
        method: "POST",
        headers: {
          authorization: `Bearer ${token}`,
          "content-type": "application/json",
          "idempotency-key": "jwks-down-1",
        },
        body: JSON.stringify(userBody()),
      });
    const before = await writtenRows(stack);
    const answer = await down(request());
    assert.equal(answer.status, 503);
    assert.ok(Number(answer.headers.get("retry-after")) > 0);
    assert.equal((await answer.json()).error.code, "auth_unavailable");
    assert.deepEqual(await writtenRows(stack), before);

    // Keys reachable again (the stack's, handed inline): the same key now creates the checkout.
    const up = createEnhancedCheckoutHandler({
      ...enhancedCheckoutDeps(config),
      verifyUser: createUserVerifier({
        SUPABASE_URL: unreachable,
        SUPABASE_JWKS: stack.jwks as jose.JSONWebKeySet,
      }),
    });
    const retried = await up(request());
    assert.equal(retried.status, 201, await retried.clone().text());
    assert.equal(retried.headers.get("idempotent-replayed"), null);
  },
);
