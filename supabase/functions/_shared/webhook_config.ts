import { z } from "npm:zod@4.6.7";
import { optionalText, parseEnv } from "./config.ts";

/**
 * The stripe-webhook function's configuration. Smaller than the checkout functions':
 * the webhook needs no origins, leases or session TTLs.
 */
const WebhookConfigSchema = z.object({
  SUPABASE_URL: z.url({ error: "SUPABASE_URL must be the project URL" }),
  SUPABASE_SERVICE_ROLE_KEY: z.string({ error: "SUPABASE_SERVICE_ROLE_KEY is required" })
    .min(1, "SUPABASE_SERVICE_ROLE_KEY is required"),
  STRIPE_SECRET_KEY: z.string({ error: "STRIPE_SECRET_KEY is required" }).regex(
    /^(sk|rk)_(test|live)_/,
    "STRIPE_SECRET_KEY must be a Stripe secret key (sk_test_… or sk_live_…)",
  ),
  STRIPE_API_BASE: optionalText.pipe(z.url("STRIPE_API_BASE must be a URL").optional()),
  // Comma-separated so that a rotation can run with the old and the new secret at once.
  STRIPE_WEBHOOK_SECRET: z.string({
    error: "STRIPE_WEBHOOK_SECRET is required (whsec_…, comma-separated during a rotation)",
  }).transform((v, ctx) => {
    const secrets = v.split(",").map((s) => s.trim()).filter((s) => s !== "");
    if (secrets.length === 0) {
      ctx.addIssue({ code: "custom", message: "STRIPE_WEBHOOK_SECRET lists no secret" });
      return z.NEVER;
    }
    for (const secret of secrets) {
      if (!/^whsec_[A-Za-z0-9+/=_-]{8,}$/.test(secret)) {
        ctx.addIssue({
          code: "custom",
          message: `STRIPE_WEBHOOK_SECRET has a value that is not a whsec_… signing secret ` +
            `(starts ${JSON.stringify(secret.slice(0, 6))})`,
        });
        return z.NEVER;
      }
    }
    return secrets;
  }),
});

export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;

/** Parse once at start-up; a missing or bad variable is named (secrets are never echoed). */
export function parseWebhookConfig(env: Record<string, string | undefined>): WebhookConfig {
  return parseEnv(WebhookConfigSchema, env, "stripe-webhook configuration");
}
