import * as jose from "npm:jose@6.2.17";
import { DEFAULT_JWT_SECRET, mintAnonKey, mintServiceRoleKey } from "./jwt.ts";

/**
 * Every key a current hosted project has, for the local stack: an asymmetric JWT signing key
 * (its public half served as the JWKS), `sb_publishable_…` / `sb_secret_…` API keys, and the
 * legacy HS256 anon / service_role keys signed with the JWT secret.
 */

export interface SigningKey {
  kid: string;
  alg: "ES256" | "RS256";
  privateKey: CryptoKey;
}

export interface StackKeys {
  /** Signs user tokens; the first key of a signing keys file. */
  signingKey: SigningKey;
  /** The public halves of every signing key, as `/auth/v1/.well-known/jwks.json` serves them. */
  jwks: { keys: jose.JWK[] };
  publishableKey: string;
  secretKey: string;
  /** Legacy: signs the anon / service_role keys and is accepted for HS256 tokens. */
  jwtSecret: string;
  anonKey: string;
  serviceRoleKey: string;
}

export interface StackKeyOptions {
  jwtSecret?: string;
  /** A JSON array of private JWKs, as `supabase gen signing-key` writes; unset → a fresh ES256 key. */
  signingKeysPath?: string;
}

/** Members of a private JWK that must never reach the public JWKS. */
const PRIVATE_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

export async function createStackKeys(options: StackKeyOptions = {}): Promise<StackKeys> {
  const jwtSecret = options.jwtSecret ?? DEFAULT_JWT_SECRET;
  const privateJwks = options.signingKeysPath
    ? await readSigningKeys(options.signingKeysPath)
    : [await generateSigningJwk()];
  const signingKeys = await Promise.all(
    privateJwks.map((jwk, i) => importSigningKey(jwk, `${options.signingKeysPath}[${i}]`)),
  );
  const [anonKey, serviceRoleKey] = await Promise.all([
    mintAnonKey(jwtSecret),
    mintServiceRoleKey(jwtSecret),
  ]);
  const signingKey = signingKeys[0];
  if (!signingKey) throw new Error(`${options.signingKeysPath} holds no signing key`);
  return {
    signingKey,
    jwks: { keys: privateJwks.map(publicJwk) },
    publishableKey: apiKey("publishable"),
    secretKey: apiKey("secret"),
    jwtSecret,
    anonKey,
    serviceRoleKey,
  };
}

/** A fresh random key in Supabase's format; hosted keys are opaque strings with this prefix. */
function apiKey(kind: "publishable" | "secret"): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `sb_${kind}_${jose.base64url.encode(bytes)}`;
}

export async function generateSigningJwk(): Promise<jose.JWK> {
  const { privateKey } = await jose.generateKeyPair("ES256", { extractable: true });
  return {
    ...await jose.exportJWK(privateKey),
    kid: crypto.randomUUID(),
    alg: "ES256",
    use: "sig",
    key_ops: ["sign", "verify"],
    ext: true,
  };
}

async function readSigningKeys(path: string): Promise<jose.JWK[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(
      `cannot read the signing keys at ${path}: ${error instanceof Error ? error.message : error}`,
    );
  }
  if (!Array.isArray(parsed) || parsed.length === 0) {
    throw new Error(
      `${path} must be a JSON array of private JWKs, as \`supabase gen signing-key\` writes`,
    );
  }
  return parsed as jose.JWK[];
}

/** A private JWK as a signing key; `where` names it in errors (a file and an index). */
export async function importSigningKey(jwk: jose.JWK, where: string): Promise<SigningKey> {
  const alg = (["ES256", "RS256"] as const).find((known) => known === jwk.alg);
  if (!alg || typeof jwk.kid !== "string") {
    throw new Error(
      `${where}: a signing key needs "alg" ES256 or RS256 and a "kid" (got alg ${
        JSON.stringify(jwk.alg)
      })`,
    );
  }
  if (typeof jwk.d !== "string") throw new Error(`${where}: not a private key (no "d")`);
  const key = await jose.importJWK({ ...jwk, key_ops: ["sign"] }, alg);
  if (!(key instanceof CryptoKey)) throw new Error(`${where}: not an asymmetric key`);
  return { kid: jwk.kid, alg, privateKey: key };
}

function publicJwk(jwk: jose.JWK): jose.JWK {
  const pub: Record<string, unknown> = { ...jwk, key_ops: ["verify"] };
  for (const member of PRIVATE_MEMBERS) delete pub[member];
  delete pub.ext;
  return pub as jose.JWK;
}
