import { z } from "npm:zod@4.6.7";
import { DEFAULT_STRIPE_TIMEOUT_MS } from "./stripe.ts";
import { requireSecretKey, SecretKeyEnv, UserAuthEnv } from "./supabase_keys.ts";

const positiveInt = (name: string, fallback: number) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`)
    .positive(`${name} must be positive`).default(fallback);

const limit = (name: string, fallback: number) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`)
    .min(0, `${name} must be 0 (no limit) or more`).default(fallback);

/** A whole number within [min, max] with a default; the message names the variable. */
export function wholeNumber(name: string, fallback: number, min = 1, max = 1_000_000) {
  const message = `${name} must be a whole number from ${min} to ${max}`;
  return z.coerce.number({ error: message }).int(message).min(min, message).max(max, message)
    .default(fallback);
}

/** An optional variable; set-but-empty counts as unset. */
export const optionalText = z.string().trim().transform((v) => v === "" ? undefined : v).optional();

/**
 * A comma-separated variable as a list: blanks around items and empty items are
 * dropped; an empty list or a bad item fails, named. `parseItem` answers the item as
 * it is kept, or a problem that names the variable (never echoing a secret).
 */
export function commaList(
  name: string,
  what: { required: string; noun: string },
  parseItem: (item: string) => { ok: true; value: string } | { ok: false; problem: string },
) {
  return z.string({ error: `${name} is required (${what.required})` }).transform((v, ctx) => {
    const items = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (items.length === 0) {
      ctx.addIssue({ code: "custom", message: `${name} lists no ${what.noun}` });
      return z.NEVER;
    }
    const parsed: string[] = [];
    for (const item of items) {
      const result = parseItem(item);
      if (!result.ok) {
        ctx.addIssue({ code: "custom", message: result.problem });
        return z.NEVER;
      }
      parsed.push(result.value);
    }
    return parsed;
  });
}

/**
 * ALLOWED_ORIGINS: comma-separated origins, each normalised to its URL origin (so
 * `https://shop.example/` means `https://shop.example`). Exported so `deno task dev` accepts
 * exactly what the functions accept.
 */
export const AllowedOrigins = commaList(
  "ALLOWED_ORIGINS",
  { required: "comma-separated origins", noun: "origin" },
  (origin) => {
    try {
      const url = new URL(origin);
      if (url.origin !== "null") return { ok: true, value: url.origin };
    } catch {
      // reported below
    }
    return { ok: false, problem: `ALLOWED_ORIGINS has a bad origin: ${origin}` };
  },
);

const TTL_MESSAGE = "CHECKOUT_SESSION_TTL_MINUTES must be 30-1438 " +
  "(Stripe's 30 min-24 h, less the 60 s expiry margin at each end)";

/** A Stripe secret or restricted key; exported so `deno task dev` accepts exactly these. */
export const StripeSecretKey = z.string({ error: "STRIPE_SECRET_KEY is required" }).regex(
  /^(sk|rk)_(test|live)_/,
  "STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_… or sk_live_…, or a restricted rk_…)",
);

/**
 * What every function reads: the project, its secret key (new or legacy: a schema built on
 * this adds `.superRefine(requireSecretKey)`), and the Stripe account.
 */
export const BaseEnv = z.object({
  SUPABASE_URL: z.url({ error: "SUPABASE_URL must be the project URL" }),
  ...SecretKeyEnv,
  STRIPE_SECRET_KEY: StripeSecretKey,
  STRIPE_API_BASE: optionalText.pipe(z.url("STRIPE_API_BASE must be a URL").optional()),
});

const ConfigSchema = BaseEnv.extend({
  ...UserAuthEnv,
  ALLOWED_ORIGINS: AllowedOrigins,
  // Stripe takes 30 min-24 h; the 60 s margin added to expires_at must fit under 24 h with
  // another 60 s to spare (a Stripe clock behind ours), so at most 1438 minutes.
  CHECKOUT_SESSION_TTL_MINUTES: z.coerce.number({ error: TTL_MESSAGE }).int(TTL_MESSAGE)
    .min(30, { error: TTL_MESSAGE }).max(1438, { error: TTL_MESSAGE }).default(30),
  IDEMPOTENCY_LEASE_SECONDS: positiveInt("IDEMPOTENCY_LEASE_SECONDS", 60),
  IDEMPOTENCY_KEY_TTL_HOURS: positiveInt("IDEMPOTENCY_KEY_TTL_HOURS", 24),
  STRIPE_TIMEOUT_MS: positiveInt("STRIPE_TIMEOUT_MS", DEFAULT_STRIPE_TIMEOUT_MS),
  STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(5).default(1),
  // Open (pending, unexpired) checkouts one guest e-mail or user / one client IP may hold;
  // 0 disables the limit (README, "Limits on open checkouts").
  PENDING_CHECKOUTS_PER_EMAIL: limit("PENDING_CHECKOUTS_PER_EMAIL", 3),
  PENDING_CHECKOUTS_PER_IP: limit("PENDING_CHECKOUTS_PER_IP", 20),
}).superRefine((c, ctx) => {
  // A lease must outlive the whole Stripe call (every SDK retry included), or a
  // retry could take over an operation whose owner is still waiting on Stripe.
  const worstCaseMs = c.STRIPE_TIMEOUT_MS * (c.STRIPE_MAX_NETWORK_RETRIES + 1) + 2_000;
  if (c.IDEMPOTENCY_LEASE_SECONDS * 1000 <= worstCaseMs) {
    ctx.addIssue({
      code: "custom",
      message: `IDEMPOTENCY_LEASE_SECONDS (${c.IDEMPOTENCY_LEASE_SECONDS}) must exceed the ` +
        `longest Stripe call, ${Math.ceil(worstCaseMs / 1000)} s ` +
        `(STRIPE_TIMEOUT_MS × (STRIPE_MAX_NETWORK_RETRIES + 1) + 2 s)`,
    });
  }
}).superRefine(requireSecretKey);

export type Config = z.infer<typeof ConfigSchema>;

/**
 * Added to the session TTL when expires_at is computed: Stripe checks 30 min ≤ expires_at −
 * its now ≤ 24 h when the call arrives, with only seconds of grace, and our call may arrive
 * later than we computed it (network, SDK retries) or meet a clock slightly ahead of ours.
 */
export const SESSION_EXPIRY_MARGIN_SECONDS = 60;

/** expires_at = now + this: the TTL plus the margin. */
export function sessionExpiresInSeconds(
  config: Pick<Config, "CHECKOUT_SESSION_TTL_MINUTES">,
): number {
  return config.CHECKOUT_SESSION_TTL_MINUTES * 60 + SESSION_EXPIRY_MARGIN_SECONDS;
}

export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Parse the checkout functions' configuration once, at start-up; a bad value names itself. */
export function parseConfig(env: Record<string, string | undefined>): Config {
  return parseEnv(ConfigSchema, env, "configuration");
}

/**
 * Validates an environment against a function's schema. Every problem is listed,
 * each naming its variable; values are never echoed (they may be secrets).
 */
export function parseEnv<S extends z.ZodType>(
  schema: S,
  env: Record<string, string | undefined>,
  what: string,
): z.infer<S> {
  const result = schema.safeParse(env);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => {
      const path = issue.path.join(".");
      return issue.message.includes(path) || path === ""
        ? issue.message
        : `${path}: ${issue.message}`;
    });
    throw new ConfigError(`invalid ${what}:\n  - ${problems.join("\n  - ")}`);
  }
  return result.data;
}

/** Deno.env as a plain record (the functions read only what the schema names). */
export function readEnv(): Record<string, string | undefined> {
  return Deno.env.toObject();
}
