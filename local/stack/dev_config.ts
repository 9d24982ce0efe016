import { z } from "npm:zod@4.6.7";
import { AllowedOrigins, StripeSecretKey } from "../../supabase/functions/_shared/config.ts";
import { DEFAULT_GATEWAY_PORT } from "./stack.ts";
import { DEFAULT_EMULATOR_PORT } from "../stripe-emulator/mod.ts";

const PORT_MESSAGE = "must be a port number from 0 to 65535 (0 picks a free one)";
const port = (fallback: number) =>
  z.coerce.number({ error: PORT_MESSAGE }).int(PORT_MESSAGE).min(0, PORT_MESSAGE).max(
    65535,
    PORT_MESSAGE,
  ).default(fallback);

const INTERVAL_MESSAGE = "must be a whole number of seconds (0 turns the schedule off)";
const interval = (fallback: number) =>
  z.coerce.number({ error: INTERVAL_MESSAGE }).int(INTERVAL_MESSAGE).min(0, INTERVAL_MESSAGE)
    .default(fallback);

/**
 * The documented function settings. Function processes start with a clean environment, so dev
 * forwards these from the developer's shell; the functions validate them at start-up.
 */
export const FUNCTION_SETTINGS = [
  "CHECKOUT_SESSION_TTL_MINUTES",
  "IDEMPOTENCY_LEASE_SECONDS",
  "IDEMPOTENCY_KEY_TTL_HOURS",
  "STRIPE_TIMEOUT_MS",
  "STRIPE_MAX_NETWORK_RETRIES",
  "PENDING_CHECKOUTS_PER_EMAIL",
  "PENDING_CHECKOUTS_PER_IP",
  "SUPABASE_JWKS",
  "JWT_SECRET",
  "OUTBOX_RETRY_BASE_SECONDS",
  "OUTBOX_MAX_ATTEMPTS",
  "OUTBOX_CONCURRENCY",
  "OUTBOX_DELIVERY_TIMEOUT_MS",
  "CHECKOUT_STATUS_THROTTLE_SECONDS",
  "RECONCILE_OVERLAP_SECONDS",
  "RECONCILE_TIME_BUDGET_SECONDS",
  "RECONCILE_MAX_ATTEMPTS",
  "ALLOW_ANONYMOUS_USERS",
];
const FUNCTION_SETTING_NAMES = new Set(FUNCTION_SETTINGS);

/** `deno task dev`'s environment, parsed once; a bad value fails fast, naming its variable. */
const DevEnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PORT: port(DEFAULT_GATEWAY_PORT),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  STRIPE_SECRET_KEY: StripeSecretKey.optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(
    /^whsec_[^,]+(,\s*whsec_[^,]+)*$/,
    "must be whsec_… (comma-separated for rotation)",
  ).optional(),
  SUPABASE_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  // A file of private JWKs (`supabase gen signing-key`); wins over config.toml's signing_keys_path.
  SUPABASE_SIGNING_KEYS_PATH: z.string().optional(),
  // The functions' own parser, so dev accepts (and normalises) exactly what they accept.
  ALLOWED_ORIGINS: AllowedOrigins.transform((origins) => origins.join(",")).optional(),
  STRIPE_EMULATOR_PORT: port(DEFAULT_EMULATOR_PORT),
  // Default: the stack's own receiver (/_sink/outbox), which the demo shows.
  OUTBOX_WEBHOOK_URL: z.url({ protocol: /^https?$/ }).optional(),
  OUTBOX_WEBHOOK_SECRET: z.string().regex(
    /^whsec_[A-Za-z0-9+/]{16,}={0,2}$/,
    "must be whsec_ followed by a base64 key",
  ).optional(),
  // pg_cron's schedule on Supabase: every minute and every 5 minutes. 0 turns one off.
  OUTBOX_INTERVAL_SECONDS: interval(60),
  RECONCILE_INTERVAL_SECONDS: interval(300),
});

export type DevEnv = z.infer<typeof DevEnvSchema> & {
  /** The FUNCTION_SETTINGS that are set, as given. */
  functionEnv: Record<string, string>;
};

export function parseDevEnv(env: Record<string, string>): DevEnv {
  // An empty variable means unset, as in most shells' `VAR= deno task dev`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = DevEnvSchema.safeParse(present);
  if (result.success) {
    const functionEnv = Object.fromEntries(
      Object.entries(present).filter(([name]) => FUNCTION_SETTING_NAMES.has(name)),
    );
    return { ...result.data, functionEnv };
  }
  const problems = result.error.issues.map((issue) => {
    const path = issue.path.join(".");
    // The shared ALLOWED_ORIGINS parser already names its variable.
    return `  ${issue.message.includes(path) ? issue.message : `${path}: ${issue.message}`}`;
  });
  throw new Error(`invalid environment for deno task dev:\n${problems.join("\n")}`);
}
