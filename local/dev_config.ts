import { z } from "npm:zod@4.6.7";

/** `deno task dev`'s environment, parsed once; a bad value fails fast, naming its variable. */
const origin = z.string().refine((value) => {
  try {
    return new URL(value).origin === value;
  } catch {
    return false;
  }
}, "each origin must look like https://host[:port] (no path, no trailing slash)");

const PORT_MESSAGE = "must be a port number from 0 to 65535 (0 picks a free one)";
const port = (fallback: number) =>
  z.coerce.number({ error: PORT_MESSAGE }).int(PORT_MESSAGE).min(0, PORT_MESSAGE).max(
    65535,
    PORT_MESSAGE,
  ).default(fallback);

const DevEnvSchema = z.object({
  DATABASE_URL: z.url({ protocol: /^postgres(ql)?$/ }).optional(),
  PORT: port(54321),
  STRIPE_API_BASE: z.url({ protocol: /^https?$/ }).optional(),
  STRIPE_SECRET_KEY: z.string().regex(/^sk_/, "must start with sk_").optional(),
  STRIPE_WEBHOOK_SECRET: z.string().regex(
    /^whsec_[^,]+(,\s*whsec_[^,]+)*$/,
    "must be whsec_… (comma-separated for rotation)",
  ).optional(),
  SUPABASE_JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  ALLOWED_ORIGINS: z.string().refine(
    (value) => value.split(",").every((item) => origin.safeParse(item.trim()).success),
    "must be a comma-separated list of origins like http://localhost:3000",
  ).optional(),
  STRIPE_EMULATOR_PORT: port(12111),
});

export type DevEnv = z.infer<typeof DevEnvSchema>;

export function parseDevEnv(env: Record<string, string>): DevEnv {
  // An empty variable means unset, as in most shells' `VAR= deno task dev`.
  const present = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ""));
  const result = DevEnvSchema.safeParse(present);
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) =>
    `  ${issue.path.join(".")}: ${issue.message}`
  );
  throw new Error(`invalid environment for deno task dev:\n${problems.join("\n")}`);
}
