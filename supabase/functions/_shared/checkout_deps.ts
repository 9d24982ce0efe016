/**
 * The checkout functions' dependencies. guest-checkout's are built here and never touch
 * the user verifier: `_shared/auth.ts` (and its JWT libraries) is imported only as types,
 * so it is not even loaded; enhanced-checkout adds it in enhanced_checkout_deps.ts.
 */
import { type Config, parseConfig } from "./config.ts";
import type { Rpc } from "./db.ts";
import type { Stripe } from "./stripe.ts";
import type { UserVerifier } from "./auth.ts";
import { UserAuthEnv } from "./supabase_keys.ts";
import { serviceRpc, stripeClientOf } from "./service_clients.ts";

/** What both checkout functions need: an `rpc` function, a Stripe client, a clock. */
export interface GuestCheckoutDeps {
  rpc: Rpc;
  stripe: Pick<Stripe, "checkout">;
  config: Pick<
    Config,
    | "ALLOWED_ORIGINS"
    | "IDEMPOTENCY_LEASE_SECONDS"
    | "IDEMPOTENCY_KEY_TTL_HOURS"
    | "CHECKOUT_SESSION_TTL_MINUTES"
    | "PENDING_CHECKOUTS_PER_EMAIL"
    | "PENDING_CHECKOUTS_PER_IP"
  >;
  now: () => Date;
}

/** enhanced-checkout also verifies the user and creates their Stripe Customer. */
export interface EnhancedCheckoutDeps extends GuestCheckoutDeps {
  stripe: Pick<Stripe, "checkout" | "customers">;
  verifyUser: UserVerifier;
}

/** The real dependencies of guest-checkout, built once at start-up: no user verifier. */
export function guestCheckoutDeps(config: Config): GuestCheckoutDeps {
  return checkoutBaseDeps(config);
}

/**
 * guest-checkout's configuration: the user-auth variables (SUPABASE_JWKS, the legacy JWT
 * secret, ALLOW_ANONYMOUS_USERS) are left out before parsing, so a guest function is never
 * refused for a setting only signed-in users need.
 */
export function parseGuestConfig(env: Record<string, string | undefined>): Config {
  const guestEnv = { ...env };
  for (const name of Object.keys(UserAuthEnv)) delete guestEnv[name];
  return parseConfig(guestEnv);
}

/** What both functions share, built once at start-up. */
export function checkoutBaseDeps(config: Config): GuestCheckoutDeps & { stripe: Stripe } {
  return {
    config,
    rpc: serviceRpc(config),
    stripe: stripeClientOf(config),
    now: () => new Date(),
  };
}
