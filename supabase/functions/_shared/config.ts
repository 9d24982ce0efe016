import { z } from "npm:zod@4.6.7";
import { DEFAULT_STRIPE_TIMEOUT_MS } from "./stripe.ts";

const positiveInt = (name: string, fallback: number) =>
  z.coerce.number({ error: `${name} must be a number` }).int(`${name} must be a whole number`)
    .positive(`${name} must be positive`).default(fallback);

/** An optional variable; set-but-empty counts as unset. */
export const optionalText = z.string().trim().transform((v) => v === "" ? undefined : v).optional();

/**
 * ALLOWED_ORIGINS: comma-separated origins, each normalised to its URL origin (so
 * `https://shop.example/` means `https://shop.example`). Exported so `deno task dev` accepts
 * exactly what the functions accept.
 */
export const AllowedOrigins = z.string({
  error: "ALLOWED_ORIGINS is required (comma-separated origins)",
})
  .transform((v, ctx) => {
    const origins = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (origins.length === 0) {
      ctx.addIssue({ code: "custom", message: "ALLOWED_ORIGINS lists no origin" });
      return z.NEVER;
    }
    const parsed: string[] = [];
    for (const origin of origins) {
      try {
        const url = new URL(origin);
        if (url.origin === "null") throw new Error("opaque");
        parsed.push(url.origin);
      } catch {
        ctx.addIssue({ code: "custom", message: `ALLOWED_ORIGINS has a bad origin: ${origin}` });
        return z.NEVER;
      }
    }
    return parsed;
  });

const ConfigSchema = z.object({
  SUPABASE_URL: z.url({ error: "SUPABASE_URL must be the project URL" }),
  SUPABASE_SERVICE_ROLE_KEY: z.string().min(1, "SUPABASE_SERVICE_ROLE_KEY is required"),
  SUPABASE_JWT_SECRET: optionalText,
  // Hosted projects reserve the SUPABASE_ prefix for secrets: a legacy HS256 project
  // sets its JWT secret under this name instead.
  JWT_SECRET: optionalText,
  SUPABASE_JWKS: optionalText,
  STRIPE_SECRET_KEY: z.string().regex(
    /^(sk|rk)_(test|live)_/,
    "STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_… or sk_live_…)",
  ),
  STRIPE_API_BASE: optionalText.pipe(z.url("STRIPE_API_BASE must be a URL").optional()),
  ALLOWED_ORIGINS: AllowedOrigins,
  CHECKOUT_SESSION_TTL_MINUTES: z.coerce.number().int().min(30, {
    error: "CHECKOUT_SESSION_TTL_MINUTES must be 30-1440 (Stripe's limits)",
  }).max(1440, { error: "CHECKOUT_SESSION_TTL_MINUTES must be 30-1440 (Stripe's limits)" })
    .default(30),
  IDEMPOTENCY_LEASE_SECONDS: positiveInt("IDEMPOTENCY_LEASE_SECONDS", 60),
  IDEMPOTENCY_KEY_TTL_HOURS: positiveInt("IDEMPOTENCY_KEY_TTL_HOURS", 24),
  STRIPE_TIMEOUT_MS: positiveInt("STRIPE_TIMEOUT_MS", DEFAULT_STRIPE_TIMEOUT_MS),
  STRIPE_MAX_NETWORK_RETRIES: z.coerce.number().int().min(0).max(5).default(1),
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
});

export type Config = z.infer<typeof ConfigSchema>;

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
