import * as jose from "npm:jose@6.2.17";
import type { SigningKey } from "./keys.ts";

/** The secret `supabase start` uses, so keys minted here match Supabase's local defaults. */
export const DEFAULT_JWT_SECRET = "super-secret-jwt-token-with-at-least-32-characters-long";

/** API keys are long-lived, like the ones `supabase start` prints. */
const API_KEY_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

export type JwtClaims = jose.JWTPayload & { role?: string; sub?: string; email?: string };

function key(secret: string): Uint8Array {
  return new TextEncoder().encode(secret);
}

async function sign(claims: jose.JWTPayload, secret: string): Promise<string> {
  return await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "HS256", typ: "JWT" })
    .sign(key(secret));
}

export function mintAnonKey(secret = DEFAULT_JWT_SECRET): Promise<string> {
  return mintApiKey("anon", secret);
}

export function mintServiceRoleKey(secret = DEFAULT_JWT_SECRET): Promise<string> {
  return mintApiKey("service_role", secret);
}

function mintApiKey(role: string, secret: string): Promise<string> {
  const iat = Math.floor(Date.now() / 1000);
  return sign({ iss: "supabase-demo", role, iat, exp: iat + API_KEY_LIFETIME_SECONDS }, secret);
}

export interface UserTokenOptions {
  sub: string;
  email?: string;
  role?: string;
  /** Negative values mint an already expired token (for tests). Default one hour, as GoTrue. */
  expiresIn?: number;
  /** The `iss` GoTrue would set: `<SUPABASE_URL>/auth/v1`. */
  issuer?: string;
  /** Default "authenticated", as GoTrue. */
  audience?: string;
  /** A user of Supabase's anonymous sign-in. */
  isAnonymous?: boolean;
}

/**
 * An access token shaped like the ones GoTrue issues after a password sign-in: signed with
 * the asymmetric signing key (header `kid`), as a current project does, or with the legacy
 * HS256 secret when given a string.
 */
export async function mintUserToken(
  options: UserTokenOptions,
  key: string | SigningKey = DEFAULT_JWT_SECRET,
): Promise<string> {
  const claims = userClaims(options);
  if (typeof key === "string") return await sign(claims, key);
  return await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: key.alg, kid: key.kid, typ: "JWT" })
    .sign(key.privateKey);
}

function userClaims(options: UserTokenOptions): jose.JWTPayload {
  const iat = Math.floor(Date.now() / 1000);
  return {
    iss: options.issuer ?? "http://127.0.0.1:54321/auth/v1",
    sub: options.sub,
    aud: options.audience ?? "authenticated",
    exp: iat + (options.expiresIn ?? 3600),
    iat,
    email: options.email ?? "",
    phone: "",
    app_metadata: { provider: "email", providers: ["email"] },
    user_metadata: {},
    role: options.role ?? "authenticated",
    aal: "aal1",
    amr: [{ method: "password", timestamp: iat }],
    session_id: crypto.randomUUID(),
    is_anonymous: options.isAnonymous ?? false,
  };
}

export type VerifyResult =
  | { ok: true; claims: JwtClaims }
  | { ok: false; reason: "expired" | "invalid"; message: string };

/** HS256 only: `alg: none` and asymmetric algorithms are rejected, like Supabase's gateway. */
export async function verifyJwt(token: string, secret: string): Promise<VerifyResult> {
  return await verified(jose.jwtVerify(token, key(secret), { algorithms: ["HS256"] }));
}

/** A verification's outcome: its claims, or why it failed (`expired` only for JWTExpired). */
async function verified(verification: Promise<jose.JWTVerifyResult>): Promise<VerifyResult> {
  try {
    return { ok: true, claims: (await verification).payload as JwtClaims };
  } catch (error) {
    if (error instanceof jose.errors.JWTExpired) {
      return { ok: false, reason: "expired", message: "JWT expired" };
    }
    const detail = error instanceof Error ? error.message : String(error);
    return { ok: false, reason: "invalid", message: detail };
  }
}

/**
 * What Supabase's API gateway accepts as a JWT: signed by one of the project's signing keys
 * (ES256/RS256, found by `kid` in the JWKS) or, legacy, HS256 with the JWT secret. Never HS256
 * against a public key, never `alg: none`.
 */
export async function verifyProjectJwt(
  token: string,
  keys: { jwtSecret: string; jwks: jose.JSONWebKeySet },
): Promise<VerifyResult> {
  let alg: string | undefined;
  try {
    alg = jose.decodeProtectedHeader(token).alg;
  } catch (error) {
    return { ok: false, reason: "invalid", message: (error as Error).message };
  }
  if (alg === "HS256") return await verifyJwt(token, keys.jwtSecret);
  return await verified(
    jose.jwtVerify(token, jose.createLocalJWKSet(keys.jwks), { algorithms: ["ES256", "RS256"] }),
  );
}

/** The token from `Authorization: Bearer …`, or undefined when the header is absent. */
export function bearerToken(headers: Headers): string | undefined {
  const header = headers.get("authorization");
  if (header === null) return undefined;
  const match = /^Bearer\s+(.+)$/i.exec(header.trim());
  return match?.[1] ?? "";
}
