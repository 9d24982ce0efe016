/**
 * The clients a function builds once at start-up from its parsed configuration: the
 * database, as the service role, and Stripe, under the configured key.
 */
import { createDb, type Rpc, rpcOf } from "./db.ts";
import { createStripeClient, type Stripe, type StripeClientOptions } from "./stripe.ts";
import { type SecretKeyFields, supabaseSecretKey } from "./supabase_keys.ts";

/** The project's RPCs, called with the function's Supabase secret key. */
export function serviceRpc(config: SecretKeyFields & { SUPABASE_URL: string }): Rpc {
  return rpcOf(createDb(config.SUPABASE_URL, supabaseSecretKey(config)));
}

/** What a configuration says about Stripe; the tuning is there only where the function reads it. */
export interface StripeEnvFields {
  STRIPE_SECRET_KEY: string;
  STRIPE_API_BASE?: string | undefined;
  STRIPE_TIMEOUT_MS?: number;
  STRIPE_MAX_NETWORK_RETRIES?: number;
}

/**
 * A Stripe client for the configured account. `tuning` wins over the configuration's
 * STRIPE_TIMEOUT_MS / STRIPE_MAX_NETWORK_RETRIES, for functions that must not wait or retry.
 */
export function stripeClientOf(
  config: StripeEnvFields,
  tuning: Pick<StripeClientOptions, "maxNetworkRetries" | "timeoutMs"> = {},
): Stripe {
  return createStripeClient({
    secretKey: config.STRIPE_SECRET_KEY,
    apiBase: config.STRIPE_API_BASE,
    maxNetworkRetries: tuning.maxNetworkRetries ?? config.STRIPE_MAX_NETWORK_RETRIES,
    timeoutMs: tuning.timeoutMs ?? config.STRIPE_TIMEOUT_MS,
  });
}
