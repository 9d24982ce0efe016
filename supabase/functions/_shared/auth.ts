/**
 * Who is calling, checked in code (every function has `verify_jwt = false`: the platform's
 * gate understands only the legacy HS256 secret, README "verify_jwt = false, and why").
 *
 * Users: `@supabase/server`'s `verifyCredentials` checks the signature against the project's
 * JWKS, the expiry, the audience and the issuer. Two things it cannot do for us, so they live
 * here: (1) the JWKS is fetched and cached by this module, not by the library, because the
 * library's remote key set uses jose's fixed timeout and 30 s refetch cooldown and reports an
 * unreachable JWKS as a 500, where we want our own timeout, at most one refetch a minute for an
 * unknown `kid`, and a 503 with Retry-After; the key set is handed to the library inline.
 * (2) Legacy HS256 user tokens carry no `kid`, which the library's user mode requires, so they
 * are verified with jose, pinned to HS256 and the same claims, only while a legacy secret is set.
 *
 * Servers: `sb_secret_…` keys (or the legacy service_role key) compared in constant time by
 * the library's `secret` mode, whether sent in `apikey` or as a Bearer token.
 */
import { verifyCredentials } from "npm:@supabase/server@1.8.1/core";
import {
  decodeProtectedHeader,
  type JSONWebKeySet,
  type JWTPayload,
  jwtVerify,
} from "npm:jose@6.2.17";
import { ApiError } from "./errors.ts";
import { acceptedSecretKeys, type SecretKeyFields } from "./supabase_keys.ts";

export interface VerifiedUser {
  id: string;
  email: string | undefined;
}

/** Resolves the user, undefined for every unacceptable token; throws 503 when keys are unreachable. */
export type UserVerifier = (authorization: string | null) => Promise<VerifiedUser | undefined>;

export interface UserAuthConfig {
  SUPABASE_URL: string;
  /** The project's public keys (hosted: provided); unset → fetched from the project's JWKS URL. */
  SUPABASE_JWKS?: JSONWebKeySet | undefined;
  /** The legacy HS256 secret; HS256 tokens are refused while it is unset. */
  legacySecret?: string | undefined;
  /** Supabase anonymous sign-ins (`is_anonymous: true`); refused unless true. */
  allowAnonymous?: boolean;
  fetch?: typeof fetch;
  now?: () => number;
  /** Default JWKS_TIMEOUT_MS. */
  jwksTimeoutMs?: number;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** What Supabase Auth puts in `aud` of a signed-in user's access token. */
const USER_AUDIENCE = "authenticated";
/** Supabase publishes its signing keys at this path of the project URL. */
export const JWKS_PATH = "/auth/v1/.well-known/jwks.json";
/** Longer than a healthy fetch ever takes, short enough that a checkout does not hang on it. */
export const JWKS_TIMEOUT_MS = 3_000;
/** An unknown `kid` refetches at most this often: a rotation shows within a minute, garbage cannot hammer. */
export const JWKS_REFETCH_MS = 60_000;
/** Supabase's own edge caches the JWKS for 10 minutes; keys are refreshed as often. */
export const JWKS_MAX_AGE_MS = 10 * 60_000;
/** What a client is told to wait when the JWKS is unreachable. */
export const JWKS_RETRY_AFTER_SECONDS = 5;

export function createUserVerifier(config: UserAuthConfig): UserVerifier {
  const url = config.SUPABASE_URL.replace(/\/+$/, "");
  const issuer = `${url}/auth/v1`;
  const keys = config.SUPABASE_JWKS
    ? staticKeys(config.SUPABASE_JWKS)
    : remoteKeys(`${url}${JWKS_PATH}`, {
      fetch: config.fetch ?? fetch,
      now: config.now ?? Date.now,
      timeoutMs: config.jwksTimeoutMs ?? JWKS_TIMEOUT_MS,
    });
  const legacy = config.legacySecret ? new TextEncoder().encode(config.legacySecret) : undefined;

  return async (authorization) => {
    const token = /^Bearer ([^\s]+)$/.exec(authorization ?? "")?.[1];
    if (!token) return undefined;
    let header: { alg?: string; kid?: string };
    try {
      header = decodeProtectedHeader(token);
    } catch {
      return undefined;
    }
    let claims: JWTPayload | undefined;
    if (header.alg === "HS256") {
      // Never HS256 against a public key (algorithm confusion): only the legacy secret.
      if (!legacy) return undefined;
      claims = await jwtVerify(token, legacy, {
        algorithms: ["HS256"],
        audience: USER_AUDIENCE,
        issuer,
      }).then(({ payload }) => payload, () => undefined);
    } else {
      const { data } = await verifyCredentials({ token, apikey: null }, {
        auth: "user",
        audience: USER_AUDIENCE,
        issuer,
        env: { url, publishableKeys: {}, secretKeys: {}, jwks: await keys(header.kid) },
      });
      claims = data?.jwtClaims ?? undefined;
    }
    return claims ? userOf(claims, config.allowAnonymous === true) : undefined;
  };
}

function userOf(claims: JWTPayload, allowAnonymous: boolean): VerifiedUser | undefined {
  if (claims.role !== "authenticated") return undefined;
  if (typeof claims.sub !== "string" || !UUID.test(claims.sub)) return undefined;
  // jose checks `exp` only when present; a user token without one would never expire.
  if (typeof claims.exp !== "number") return undefined;
  if (claims.is_anonymous === true && !allowAnonymous) return undefined;
  return {
    id: claims.sub.toLowerCase(),
    email: typeof claims.email === "string" && claims.email !== "" ? claims.email : undefined,
  };
}

/** The key set to verify a token with `kid` against. */
type KeySource = (kid: string | undefined) => Promise<JSONWebKeySet>;

function staticKeys(jwks: JSONWebKeySet): KeySource {
  return () => Promise.resolve(jwks);
}

/**
 * The project's JWKS, cached: fetched on first use, refreshed after JWKS_MAX_AGE_MS (a failed
 * refresh keeps the cached keys), refetched for a `kid` it does not hold at most once per
 * JWKS_REFETCH_MS. No usable keys at all, or an unknown `kid` whose refetch fails → 503.
 */
function remoteKeys(
  url: string,
  { fetch: doFetch, now, timeoutMs }: { fetch: typeof fetch; now: () => number; timeoutMs: number },
): KeySource {
  let cached: { jwks: JSONWebKeySet; at: number } | undefined;
  let lastAttempt = -Infinity;
  let inFlight: Promise<JSONWebKeySet> | undefined;

  const refresh = () =>
    inFlight ??= (async () => {
      lastAttempt = now();
      try {
        const response = await doFetch(url, { signal: AbortSignal.timeout(timeoutMs) });
        if (!response.ok) {
          await response.body?.cancel();
          throw new Error(`HTTP ${response.status}`);
        }
        const body = await response.json() as { keys?: unknown };
        if (!Array.isArray(body.keys)) throw new Error("the answer is not a JWKS");
        cached = { jwks: body as JSONWebKeySet, at: now() };
        return cached.jwks;
      } catch (error) {
        console.error(`cannot fetch the JWKS at ${url}: ${(error as Error).message}`);
        throw new ApiError("auth_unavailable", { retryAfter: JWKS_RETRY_AFTER_SECONDS });
      } finally {
        inFlight = undefined;
      }
    })();

  return async (kid) => {
    if (!cached) return await refresh();
    const known = cached.jwks.keys.some((key) => key.kid === kid);
    if (!known && now() - lastAttempt >= JWKS_REFETCH_MS) return await refresh();
    if (known && now() - cached.at >= JWKS_MAX_AGE_MS) {
      const stale = cached.jwks;
      return await refresh().catch(() => stale);
    }
    return cached.jwks;
  };
}

/** Checks a server-to-server caller: true when it presents one of the project's secret keys. */
export type SecretKeyCheck = (headers: Headers) => Promise<boolean>;

/**
 * A caller holding a secret key: an `sb_secret_…` key (any of `SUPABASE_SECRET_KEYS`) or the
 * legacy service_role key, in the `apikey` header or as `Authorization: Bearer`. Build the
 * key set with `acceptedSecretKeys(config)` (supabase_keys.ts).
 */
export function createSecretKeyCheck(
  supabaseUrl: string,
  secretKeys: Record<string, string>,
): SecretKeyCheck {
  if (Object.keys(secretKeys).length === 0) {
    throw new Error("no secret key to check callers against");
  }
  const env = { url: supabaseUrl, publishableKeys: {}, secretKeys, jwks: { keys: [] } };
  return async (headers) => {
    const bearer = /^Bearer ([^\s]+)$/.exec(headers.get("authorization") ?? "")?.[1];
    for (const candidate of new Set([headers.get("apikey"), bearer])) {
      if (!candidate) continue;
      const { data } = await verifyCredentials({ token: null, apikey: candidate }, {
        auth: "secret:*",
        env,
      });
      if (data) return true;
    }
    return false;
  };
}

/** The check against the project's own secret keys, as its configuration lists them. */
export function projectSecretKeyCheck(
  config: SecretKeyFields & { SUPABASE_URL: string },
): SecretKeyCheck {
  return createSecretKeyCheck(config.SUPABASE_URL, acceptedSecretKeys(config));
}

/** For handlers: a caller without a secret key gets 401 `unauthorized`. */
export async function requireSecretKey(check: SecretKeyCheck, request: Request): Promise<void> {
  if (!(await check(request.headers))) {
    throw new ApiError("unauthorized", {
      details: { reason: "this endpoint needs the project's secret key" },
    });
  }
}
