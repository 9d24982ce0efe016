import { z } from "npm:zod@4.6.7";
import { AllowedOrigins } from "../supabase/functions/_shared/config.ts";
import { DEFAULT_GATEWAY_PORT } from "./stack.ts";
import { DEFAULT_EMULATOR_PORT } from "./stripe-emulator/mod.ts";

const PORT_MESSAGE = "must be a port number from 0 to 65535 (0 picks a free one)";
const port = (fallback: number) =>
  z.coerce.number({ error: PORT_MESSAGE }).int(PORT_MESSAGE).min(0, PORT_MESSAGE).max(
    65535,
    PORT_MESSAGE,
  ).default(fallback);

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
  "SUPABASE_JWKS",
  "JWT_SECRET",
];
const FUNCTION_SETTING_NAMES = new Set(FUNCTION_SETTINGS);

/** `deno task dev`'s environment, parsed once; a bad value fails fast, naming its variable. */
const DevEnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PORT: port(DEFAULT_GATEWAY_PORT),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  STRIPE_SECRET_KEY: z.string().regex(/^sk_/, "must start with sk_").optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(
    /^whsec_[^,]+(,\s*whsec_[^,]+)*$/,
    "must be whsec_… (comma-separated for rotation)",
  ).optional(),
  SUPABASE_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  // The functions' own parser, so dev accepts (and normalises) exactly what they accept.
  ALLOWED_ORIGINS: AllowedOrigins.transform((origins) => origins.join(",")).optional(),
  STRIPE_EMULATOR_PORT: port(DEFAULT_EMULATOR_PORT),
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
