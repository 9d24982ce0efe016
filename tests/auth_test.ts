import assert from "node:assert/strict";
import * as jose from "npm:jose@6.2.17";
import {
  createSecretKeyCheck,
  createUserVerifier,
  JWKS_PATH,
  JWKS_REFETCH_MS,
  requireSecretKey,
} from "../supabase/functions/_shared/auth.ts";
import { ApiError } from "../supabase/functions/_shared/errors.ts";
import { generateSigningJwk, importSigningKey } from "../local/stack/keys.ts";

/**
 * The functions' own authentication, in-process: user tokens against a JWKS served by a real
 * local HTTP server (so fetching, caching and refetching are the real thing), and the
 * server-to-server secret-key check.
 */

interface Signer {
  kid: string;
  publicJwk: jose.JWK;
  sign(claims?: Record<string, unknown>): Promise<string>;
}

async function signer(): Promise<Signer> {
  const jwk = await generateSigningJwk();
  const key = await freshPrivateKey(jwk);
  const { d: _d, ...publicJwk } = jwk;
  const kid = jwk.kid ?? "";
  return {
    kid,
    publicJwk: { ...publicJwk, key_ops: ["verify"] },
    sign: (claims = {}) =>
      new jose.SignJWT({
        sub: crypto.randomUUID(),
        role: "authenticated",
        aud: "authenticated",
        iss: `${JWKS_SERVER_URL()}/auth/v1`,
        email: "ada@example.com",
        exp: Math.floor(Date.now() / 1000) + 3600,
        ...claims,
      }).setProtectedHeader({ alg: "ES256", kid, typ: "JWT" }).setIssuedAt().sign(key),
  };
}

/** A project URL whose JWKS is what the test says, counting how often it is fetched. */
interface JwksServer extends AsyncDisposable {
  url: string;
  keys: jose.JWK[];
  fetches: number;
  /** Answer this status instead of the keys. */
  failWith?: number;
}

let currentServerUrl = "";
const JWKS_SERVER_URL = () => currentServerUrl;

function jwksServer(keys: jose.JWK[]): JwksServer {
  const state: Partial<JwksServer> & { keys: jose.JWK[]; fetches: number } = { keys, fetches: 0 };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname !== JWKS_PATH) return new Response("no", { status: 404 });
    state.fetches++;
    if (state.failWith) return new Response("down", { status: state.failWith });
    return Response.json({ keys: state.keys });
  });
  state.url = `http://127.0.0.1:${server.addr.port}`;
  currentServerUrl = state.url;
  state[Symbol.asyncDispose] = () => server.shutdown();
  return state as JwksServer;
}

const bearer = (token: string) => `Bearer ${token}`;

/** A live user's claims as issued by the project at `projectUrl`, with overrides. */
function userClaims(projectUrl: string, claims: Record<string, unknown> = {}) {
  return {
    sub: crypto.randomUUID(),
    role: "authenticated",
    aud: "authenticated",
    iss: `${projectUrl}/auth/v1`,
    ...claims,
  };
}

function signHs256(secret: string, claims: Record<string, unknown>, kid?: string) {
  return new jose.SignJWT(claims).setProtectedHeader({ alg: "HS256", typ: "JWT", kid })
    .setExpirationTime("1h").sign(new TextEncoder().encode(secret));
}

async function rejects503(promise: Promise<unknown>): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, "auth_unavailable");
    assert.ok((error.retryAfterSeconds ?? 0) > 0);
    return true;
  });
}

Deno.test("a user token is verified against the project's JWKS, fetched once and cached", async () => {
  const key = await signer();
  await using server = jwksServer([key.publicJwk]);
  const verify = createUserVerifier({ SUPABASE_URL: server.url });
  const sub = crypto.randomUUID();
  const tokens = await Promise.all([1, 2, 3].map(() => key.sign({ sub })));
  const users = await Promise.all(tokens.map((token) => verify(bearer(token))));
  for (const user of users) assert.deepEqual(user, { id: sub, email: "ada@example.com" });
  assert.equal(server.fetches, 1, "concurrent first requests share one fetch");
  assert.ok(await verify(bearer(await key.sign())));
  assert.equal(server.fetches, 1);
});

Deno.test("an unknown kid refetches the JWKS at most once a minute, so a rotation shows", async () => {
  const [current, next] = await Promise.all([signer(), signer()]);
  await using server = jwksServer([current.publicJwk]);
  let clock = 1_000_000;
  const verify = createUserVerifier({ SUPABASE_URL: server.url, now: () => clock });
  assert.ok(await verify(bearer(await current.sign())));
  assert.equal(server.fetches, 1);

  // The project rotates: the new key is published, tokens are signed with it.
  server.keys = [current.publicJwk, next.publicJwk];
  clock += 1_000;
  // Fetched less than a minute ago: the unknown kid is refused without a fetch...
  assert.equal(await verify(bearer(await next.sign())), undefined);
  assert.equal(server.fetches, 1);
  // ...and a flood of made-up kids costs nothing either.
  for (let i = 0; i < 20; i++) {
    const forged = await (await signer()).sign();
    assert.equal(await verify(bearer(forged)), undefined);
  }
  assert.equal(server.fetches, 1);

  clock += JWKS_REFETCH_MS;
  assert.ok(await verify(bearer(await next.sign())), "a minute later the new key is fetched");
  assert.equal(server.fetches, 2);
  assert.ok(await verify(bearer(await current.sign())), "the old key still verifies");
  assert.equal(server.fetches, 2);
});

Deno.test("an unreachable or failing JWKS is a 503 with Retry-After, never a 401", async () => {
  const key = await signer();
  const token = bearer(await key.sign());

  // Nothing listens on the port.
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const deadUrl = `http://127.0.0.1:${closed.addr.port}`;
  closed.close();
  await rejects503(createUserVerifier({ SUPABASE_URL: deadUrl })(token));

  // Answers 500, then hangs past the timeout.
  await using server = jwksServer([key.publicJwk]);
  server.failWith = 500;
  await rejects503(createUserVerifier({ SUPABASE_URL: server.url })(token));
  const { promise: released, resolve: release } = Promise.withResolvers<Response>();
  const hanging = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => released,
  );
  try {
    const started = Date.now();
    await rejects503(
      createUserVerifier({
        SUPABASE_URL: `http://127.0.0.1:${hanging.addr.port}`,
        jwksTimeoutMs: 200,
      })(token),
    );
    assert.ok(Date.now() - started < 5_000, "the fetch is cut off by the timeout");
  } finally {
    release(new Response("too late"));
    await hanging.shutdown();
  }

  // Recovered: the next request fetches again and passes.
  server.failWith = undefined;
  const verify = createUserVerifier({ SUPABASE_URL: server.url });
  assert.ok(await verify(bearer(await key.sign())));
});

Deno.test("tokens that are not a live user's are refused", async () => {
  const [key, other] = await Promise.all([signer(), signer()]);
  await using server = jwksServer([key.publicJwk]);
  const jwks = { keys: [key.publicJwk] };
  const verify = createUserVerifier({ SUPABASE_URL: server.url, SUPABASE_JWKS: jwks });
  const now = Math.floor(Date.now() / 1000);
  const publicKey = await jose.importJWK(key.publicJwk, "ES256");
  assert.ok(publicKey instanceof CryptoKey);
  const spki = await jose.exportSPKI(publicKey);
  const hs256 = (secret: string) => signHs256(secret, userClaims(server.url), key.kid);
  const unsigned = [{ alg: "none", kid: key.kid }, userClaims(server.url, { exp: now + 600 })]
    .map((part) => jose.base64url.encode(JSON.stringify(part))).join(".") + ".";
  const noExp = await new jose.SignJWT(userClaims(server.url))
    .setProtectedHeader({ alg: "ES256", kid: key.kid }).sign(await freshPrivateKey());
  const cases: [string, string | null][] = [
    ["no header", null],
    ["not Bearer", `Basic ${await key.sign()}`],
    ["garbage", "Bearer garbage"],
    ["another key", bearer(await other.sign())],
    ["another key with our kid", bearer(await signWithKid(other, key.kid))],
    ["wrong issuer", bearer(await key.sign({ iss: "https://other.supabase.co/auth/v1" }))],
    ["wrong audience", bearer(await key.sign({ aud: "anon" }))],
    ["expired", bearer(await key.sign({ exp: now - 10 }))],
    ["alg none", bearer(unsigned)],
    ["HS256 with the public key", bearer(await hs256(spki))],
    [
      "HS256 with the public JWK",
      bearer(await hs256(JSON.stringify(key.publicJwk))),
    ],
    ["role anon", bearer(await key.sign({ role: "anon" }))],
    ["role service_role", bearer(await key.sign({ role: "service_role" }))],
    ["anonymous user", bearer(await key.sign({ is_anonymous: true }))],
    ["non-UUID sub", bearer(await key.sign({ sub: "admin" }))],
    ["no exp (forged key)", bearer(noExp)],
  ];
  for (const [label, header] of cases) {
    assert.equal(await verify(header), undefined, label);
  }
  assert.equal(server.fetches, 0, "an inline SUPABASE_JWKS is never fetched");
  assert.ok(await verify(bearer(await key.sign())), "the control token passes");
});

async function signWithKid(key: Signer, kid: string): Promise<string> {
  const token = await key.sign();
  // Re-sign with the other key but a header claiming our kid.
  const payload = jose.decodeJwt(token);
  return await new jose.SignJWT(payload).setProtectedHeader({ alg: "ES256", kid }).sign(
    await freshPrivateKey(),
  );
}

async function freshPrivateKey(jwk?: jose.JWK): Promise<CryptoKey> {
  return (await importSigningKey(jwk ?? await generateSigningJwk(), "test key")).privateKey;
}

Deno.test("anonymous users pass only with ALLOW_ANONYMOUS_USERS", async () => {
  const key = await signer();
  await using server = jwksServer([key.publicJwk]);
  const token = bearer(await key.sign({ is_anonymous: true }));
  assert.equal(await createUserVerifier({ SUPABASE_URL: server.url })(token), undefined);
  assert.ok(await createUserVerifier({ SUPABASE_URL: server.url, allowAnonymous: true })(token));
});

Deno.test("a legacy HS256 token passes only while the legacy secret is set", async () => {
  const key = await signer();
  await using server = jwksServer([key.publicJwk]);
  const secret = "legacy-secret-of-at-least-thirty-two-characters";
  const legacy = (claims: Record<string, unknown> = {}) =>
    signHs256(secret, userClaims(server.url, claims));
  const withSecret = createUserVerifier({ SUPABASE_URL: server.url, legacySecret: secret });
  const without = createUserVerifier({ SUPABASE_URL: server.url });
  const token = bearer(await legacy());
  assert.ok(await withSecret(token));
  assert.equal(await without(token), undefined);
  assert.equal(await withSecret(bearer(await legacy({ iss: "supabase-demo" }))), undefined);
  assert.equal(await withSecret(bearer(await legacy({ aud: "other" }))), undefined);
  assert.equal(server.fetches, 0, "an HS256 token never needs the JWKS");
});

Deno.test("the secret-key check accepts the project's secret keys in apikey or as Bearer", async () => {
  const secret = "sb_secret_0123456789abcdefghij";
  const rotated = "sb_secret_zyxwvutsrqponmlkjih";
  const legacy = "eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZV9yb2xlIn0.sig";
  const check = createSecretKeyCheck("http://127.0.0.1:54321", {
    default: secret,
    rotated,
    legacy_service_role: legacy,
  });
  const headers = (h: Record<string, string>) => new Headers(h);
  const accepted: [string, Record<string, string>][] = [
    ["apikey", { apikey: secret }],
    ["Bearer", { authorization: `Bearer ${secret}` }],
    ["another named key", { apikey: rotated }],
    ["legacy service_role as Bearer", { authorization: `Bearer ${legacy}` }],
    ["legacy service_role in apikey", { apikey: legacy }],
    ["publishable apikey, secret Bearer", {
      apikey: "sb_publishable_abcdefghijklmnop",
      authorization: `Bearer ${secret}`,
    }],
  ];
  for (const [label, h] of accepted) assert.equal(await check(headers(h)), true, label);
  const refused: [string, Record<string, string>][] = [
    ["nothing", {}],
    ["a publishable key", { apikey: "sb_publishable_abcdefghijklmnop" }],
    ["a wrong secret key", { apikey: "sb_secret_0123456789abcdefghiX" }],
    ["a prefix of the key", { apikey: secret.slice(0, -1) }],
    ["a user token", { authorization: "Bearer eyJhbGciOiJFUzI1NiJ9.e30.sig" }],
    ["a non-Bearer scheme", { authorization: `Basic ${secret}` }],
  ];
  for (const [label, h] of refused) assert.equal(await check(headers(h)), false, label);

  const request = new Request("http://x/", { headers: { apikey: "sb_secret_nope_nope_nope" } });
  await assert.rejects(requireSecretKey(check, request), (error: unknown) => {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, "unauthorized");
    return true;
  });
  await requireSecretKey(check, new Request("http://x/", { headers: { apikey: secret } }));
});
