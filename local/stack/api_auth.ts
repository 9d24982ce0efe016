import type { JSONWebKeySet } from "npm:jose@6.2.17";
import { bearerToken, type JwtClaims, verifyProjectJwt } from "./jwt.ts";

/**
 * Who a `/rest/v1` request runs as, the way Supabase's API gateway decides it: an
 * `sb_publishable_…` key means `anon` and an `sb_secret_…` key `service_role`, in the `apikey`
 * header or as a Bearer token; a JWT in `Authorization` (a user's session, or a legacy anon /
 * service_role key) decides the role over the project key beside it; no credentials at all
 * run as `anon`. An `sb_…` key that is not this project's, or a JWT that does not verify, is
 * refused with 401 whatever else the request carries.
 */

export interface ApiKeys {
  publishableKey: string;
  secretKey: string;
  /** Legacy HS256 secret: legacy anon / service_role keys and HS256 user tokens. */
  jwtSecret: string;
  /** Public signing keys: user tokens of a current project. */
  jwks: JSONWebKeySet;
}

export type ApiAuth =
  | { ok: true; role: string; claims: JwtClaims }
  | { ok: false; message: string; invalidToken: boolean };

const ANON = "anon";

export async function authenticateApiRequest(headers: Headers, keys: ApiKeys): Promise<ApiAuth> {
  const apikey = headers.get("apikey") || undefined;
  // supabase-js sends a legacy key twice and a new key in `apikey` only.
  const bearer = bearerToken(headers) || undefined;
  for (const value of [apikey, bearer]) {
    if (value?.startsWith("sb_") && roleOfApiKey(value, keys) === undefined) {
      return { ok: false, message: "Invalid API key", invalidToken: false };
    }
  }
  const token = bearer ?? apikey;
  if (token === undefined) return { ok: true, role: ANON, claims: { role: ANON } };
  const keyRole = roleOfApiKey(token, keys);
  if (keyRole !== undefined) return { ok: true, role: keyRole, claims: { role: keyRole } };
  const result = await verifyProjectJwt(token, keys);
  if (!result.ok) return { ok: false, message: result.message, invalidToken: true };
  const role = typeof result.claims.role === "string" ? result.claims.role : ANON;
  return { ok: true, role, claims: result.claims };
}

function roleOfApiKey(value: string, keys: ApiKeys): string | undefined {
  if (value === keys.publishableKey) return ANON;
  if (value === keys.secretKey) return "service_role";
  return undefined;
}
