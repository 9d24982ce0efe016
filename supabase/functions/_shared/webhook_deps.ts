import { createDb } from "./db.ts";
import { createStripeClient } from "./stripe.ts";
import type { WebhookConfig } from "./webhook_config.ts";
import type { WebhookDeps } from "./webhook_handler.ts";

/** The real dependencies of stripe-webhook, built once at start-up. */
export function webhookDeps(config: WebhookConfig): WebhookDeps {
  return {
    config,
    db: createDb(config.SUPABASE_URL, config.SUPABASE_SERVICE_ROLE_KEY),
    // Only its webhooks helper is used; the key ties the client to the account.
    stripe: createStripeClient({
      secretKey: config.STRIPE_SECRET_KEY,
      apiBase: config.STRIPE_API_BASE,
    }),
  };
}
