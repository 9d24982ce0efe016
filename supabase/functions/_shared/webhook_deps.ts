import { serviceRpc, stripeClientOf } from "./service_clients.ts";
import { createOutboxKick } from "./kick.ts";
import type { WebhookConfig } from "./webhook_config.ts";
import type { WebhookDeps } from "./webhook_handler.ts";
import { supabaseSecretKey } from "./supabase_keys.ts";

/** The real dependencies of stripe-webhook, built once at start-up. */
export function webhookDeps(config: WebhookConfig): WebhookDeps {
  return {
    config,
    rpc: serviceRpc(config),
    // Only its webhooks helper is used; the key ties the client to the account.
    stripe: stripeClientOf(config),
    kick: createOutboxKick(config.SUPABASE_URL, supabaseSecretKey(config)),
  };
}
