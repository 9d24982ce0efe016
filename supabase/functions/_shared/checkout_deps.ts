import type { Config } from "./config.ts";
import { createDb } from "./db.ts";
import { createStripeClient } from "./stripe.ts";
import { createUserVerifier } from "./auth.ts";
import type { CheckoutDeps } from "./checkout_flow.ts";

/** The real dependencies of the checkout functions, built once at start-up. */
export function checkoutDeps(config: Config): CheckoutDeps {
  return {
    config,
    db: createDb(config.SUPABASE_URL, config.SUPABASE_SERVICE_ROLE_KEY),
    stripe: createStripeClient({
      secretKey: config.STRIPE_SECRET_KEY,
      apiBase: config.STRIPE_API_BASE,
      maxNetworkRetries: config.STRIPE_MAX_NETWORK_RETRIES,
      timeoutMs: config.STRIPE_TIMEOUT_MS,
    }),
    verifyUser: createUserVerifier({
      SUPABASE_URL: config.SUPABASE_URL,
      SUPABASE_JWKS: config.SUPABASE_JWKS,
      SUPABASE_JWT_SECRET: config.SUPABASE_JWT_SECRET ?? config.JWT_SECRET,
    }),
  };
}
