import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  type JWTPayload,
  jwtVerify,
  type JWTVerifyGetKey,
} from "npm:jose@6.2.17";

export interface VerifiedUser {
  id: string;
  email: string | undefined;
}

export type UserVerifier = (authorization: string | null) => Promise<VerifiedUser | undefined>;

export interface AuthConfig {
  SUPABASE_URL: string;
  SUPABASE_JWT_SECRET?: string | undefined;
  /** A JWKS document (JSON) to trust instead of fetching the project's. */
  SUPABASE_JWKS?: string | undefined;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Supabase signs user tokens with HS256 (legacy secret) or asymmetric keys (JWKS).
const ASYMMETRIC = ["ES256", "RS256", "EdDSA"];

/**
 * Verifies a Supabase user access token: signature (the project's JWKS, or the
 * legacy HS256 secret), expiry, and role `authenticated` with a UUID `sub`.
 * Returns undefined for every kind of bad token; `alg: none` never verifies.
 */
export function createUserVerifier(config: AuthConfig): UserVerifier {
  const getKey = keyResolver(config);
  return async (authorization) => {
    const match = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*)$/.exec(
      authorization ?? "",
    );
    if (!match?.[1]) return undefined;
    let payload: JWTPayload;
    try {
      ({ payload } = await getKey(match[1]));
    } catch {
      return undefined;
    }
    if (payload.role !== "authenticated" || typeof payload.sub !== "string") return undefined;
    if (!UUID.test(payload.sub)) return undefined;
    if (typeof payload.exp !== "number") return undefined;
    return {
      id: payload.sub.toLowerCase(),
      email: typeof payload.email === "string" && payload.email !== "" ? payload.email : undefined,
    };
  };
}

function keyResolver(config: AuthConfig): (token: string) => Promise<{ payload: JWTPayload }> {
  const secret = config.SUPABASE_JWT_SECRET
    ? new TextEncoder().encode(config.SUPABASE_JWT_SECRET)
    : undefined;
  let jwks: JWTVerifyGetKey;
  if (config.SUPABASE_JWKS) {
    jwks = createLocalJWKSet(JSON.parse(config.SUPABASE_JWKS));
  } else {
    jwks = createRemoteJWKSet(new URL("/auth/v1/.well-known/jwks.json", config.SUPABASE_URL));
  }
  return async (token) => {
    if (decodeProtectedHeader(token).alg === "HS256") {
      if (!secret) throw new Error("HS256 token but no SUPABASE_JWT_SECRET");
      return await jwtVerify(token, secret, { algorithms: ["HS256"] });
    }
    return await jwtVerify(token, jwks, { algorithms: ASYMMETRIC });
  };
}
