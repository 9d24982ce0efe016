/** enhanced-checkout's dependencies: guest-checkout's plus the user verifier. */
import type { Config } from "./config.ts";
import { createUserVerifier } from "./auth.ts";
import { checkoutBaseDeps, type EnhancedCheckoutDeps } from "./checkout_deps.ts";

export function enhancedCheckoutDeps(config: Config): EnhancedCheckoutDeps {
  return {
    ...checkoutBaseDeps(config),
    verifyUser: createUserVerifier({
      SUPABASE_URL: config.SUPABASE_URL,
      SUPABASE_JWKS: config.SUPABASE_JWKS,
      legacySecret: config.SUPABASE_JWT_SECRET ?? config.JWT_SECRET,
      allowAnonymous: config.ALLOW_ANONYMOUS_USERS,
    }),
  };
}
