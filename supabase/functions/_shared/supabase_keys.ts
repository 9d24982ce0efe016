import { z } from "npm:zod@4.6.7";
import type { JSONWebKeySet } from "npm:jose@6.2.17";

/**
 * The Supabase keys a function is given, in both generations (README "Deploying to a current
 * project"): `SUPABASE_SECRET_KEYS` (a JSON object of named `sb_secret_…` keys) with the legacy
 * `SUPABASE_SERVICE_ROLE_KEY` as fallback; `SUPABASE_JWKS` for user tokens, with the legacy
 * HS256 secret accepted only when one is set. Parsed with the functions' config (config.ts),
 * so a bad value fails at start-up naming its variable; values are never echoed.
 */

/** Set-but-blank counts as unset, as in config.ts (not imported: config.ts imports this). */
const optional = z.string().trim().transform((v) => v === "" ? undefined : v).optional();

export interface SecretKeys {
  /** The key the function authenticates with: the one named `default`, else the only one. */
  selected: string;
  /** Every named key, for accepting any of the project's secret keys from a caller. */
  all: Record<string, string>;
}

const SECRET_KEY = /^sb_secret_[A-Za-z0-9_-]{8,}$/;

function parseSecretKeys(raw: string, ctx: z.RefinementCtx): SecretKeys | never {
  const fail = (problem: string) => {
    ctx.addIssue({ code: "custom", message: `SUPABASE_SECRET_KEYS ${problem}` });
    return z.NEVER;
  };
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    return fail('must be a JSON object of named keys, e.g. {"default":"sb_secret_…"}');
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    return fail('must be a JSON object of named keys, e.g. {"default":"sb_secret_…"}');
  }
  const entries = Object.entries(parsed);
  if (entries.length === 0) return fail("names no key");
  const all: Record<string, string> = {};
  for (const [name, value] of entries) {
    if (typeof value !== "string" || !SECRET_KEY.test(value)) {
      return fail(`has a key ${JSON.stringify(name)} that is not an sb_secret_… key`);
    }
    all[name] = value;
  }
  const selected = all["default"] ?? (entries.length === 1 ? entries[0]?.[1] : undefined);
  if (typeof selected !== "string") {
    return fail(
      `holds ${entries.length} keys and none is named "default" (names: ${
        Object.keys(all).join(", ")
      })`,
    );
  }
  return { selected, all };
}

function parseJwks(raw: string, ctx: z.RefinementCtx): JSONWebKeySet | never {
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch {
    parsed = undefined;
  }
  // Supabase hands `{"keys":[…]}`; a bare array is accepted too, as @supabase/server does.
  const keys = Array.isArray(parsed) ? parsed : (parsed as { keys?: unknown } | undefined)?.keys;
  if (
    !Array.isArray(keys) ||
    !keys.every((k) => k !== null && typeof k === "object" && typeof k.kty === "string")
  ) {
    ctx.addIssue({
      code: "custom",
      message: 'SUPABASE_JWKS must be a JSON Web Key Set, {"keys":[{"kty":…}, …]}',
    });
    return z.NEVER;
  }
  return { keys } as JSONWebKeySet;
}

/** The fields every function reads to reach the database as the project's secret key holder. */
export const SecretKeyEnv = {
  SUPABASE_SECRET_KEYS: optional.transform((v, ctx) =>
    v === undefined ? undefined : parseSecretKeys(v, ctx)
  ),
  /** Legacy projects (and the fallback until the legacy keys are retired). */
  SUPABASE_SERVICE_ROLE_KEY: optional,
};

/** The fields a function that verifies user access tokens reads. */
export const UserAuthEnv = {
  SUPABASE_JWKS: optional.transform((v, ctx) => v === undefined ? undefined : parseJwks(v, ctx)),
  SUPABASE_JWT_SECRET: optional,
  // Hosted projects reserve the SUPABASE_ prefix for secrets: a project that still accepts
  // legacy HS256 user tokens sets its JWT secret under this name instead.
  JWT_SECRET: optional,
  ALLOW_ANONYMOUS_USERS: z.enum(["true", "false", ""], {
    error: "ALLOW_ANONYMOUS_USERS must be true or false",
  }).optional().transform((v) => v === "true"),
};

export interface SecretKeyFields {
  SUPABASE_SECRET_KEYS?: SecretKeys | undefined;
  SUPABASE_SERVICE_ROLE_KEY?: string | undefined;
}

/** A superRefine for a schema spreading SecretKeyEnv: one of the two must be set. */
export function requireSecretKey(config: SecretKeyFields, ctx: z.RefinementCtx): void {
  if (!config.SUPABASE_SECRET_KEYS && !config.SUPABASE_SERVICE_ROLE_KEY) {
    ctx.addIssue({
      code: "custom",
      message: "SUPABASE_SECRET_KEYS or SUPABASE_SERVICE_ROLE_KEY is required (Supabase " +
        "provides both on hosted projects; the legacy one goes away when legacy keys are retired)",
    });
  }
}

/** The key the function authenticates to Supabase with: the new secret key wins over the legacy one. */
export function supabaseSecretKey(config: SecretKeyFields): string {
  const key = config.SUPABASE_SECRET_KEYS?.selected ?? config.SUPABASE_SERVICE_ROLE_KEY;
  if (!key) {
    throw new Error("no Supabase secret key: the config was not parsed with requireSecretKey");
  }
  return key;
}

/** Every key a server-to-server caller may present: each named secret key and the legacy one. */
export function acceptedSecretKeys(config: SecretKeyFields): Record<string, string> {
  return {
    ...config.SUPABASE_SECRET_KEYS?.all,
    ...(config.SUPABASE_SERVICE_ROLE_KEY
      ? { legacy_service_role: config.SUPABASE_SERVICE_ROLE_KEY }
      : {}),
  };
}
