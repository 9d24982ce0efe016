import { z } from "npm:zod@4.6.7";
import { BaseEnv, commaList, parseEnv } from "./config.ts";
import { requireSecretKey } from "./supabase_keys.ts";

/**
 * The stripe-webhook function's configuration. Smaller than the checkout functions':
 * the webhook needs no origins, leases or session TTLs.
 */
const WebhookConfigSchema = BaseEnv.extend({
  // Comma-separated so that a rotation can run with the old and the new secret at once.
  STRIPE_WEBHOOK_SECRET: commaList(
    "STRIPE_WEBHOOK_SECRET",
    { required: "whsec_…, comma-separated during a rotation", noun: "secret" },
    (secret) =>
      /^whsec_[A-Za-z0-9+/=_-]{8,}$/.test(secret) ? { ok: true, value: secret } : {
        ok: false,
        problem: `STRIPE_WEBHOOK_SECRET has a value that is not a whsec_… signing secret ` +
          `(starts ${JSON.stringify(secret.slice(0, 6))})`,
      },
  ),
}).superRefine(requireSecretKey);

export type WebhookConfig = z.infer<typeof WebhookConfigSchema>;

/** Parse once at start-up; a missing or bad variable is named (secrets are never echoed). */
export function parseWebhookConfig(env: Record<string, string | undefined>): WebhookConfig {
  return parseEnv(WebhookConfigSchema, env, "stripe-webhook configuration");
}

/**
 * The mode of a Stripe secret or restricted key: `sk_live_…` / `rk_live_…` are live,
 * `sk_test_…` / `rk_test_…` test. The webhook refuses events of the other mode.
 */
export function stripeKeyLivemode(key: string): boolean {
  return /^(sk|rk)_live_/.test(key);
}
