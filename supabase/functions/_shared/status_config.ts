import { z } from "npm:zod@4.6.7";
import { AllowedOrigins, BaseEnv, parseEnv, wholeNumber } from "./config.ts";
import { requireSecretKey } from "./supabase_keys.ts";

/** checkout-status's configuration (README "Fulfilment: webhook and landing page"). */
const StatusConfigSchema = BaseEnv.extend({
  ALLOWED_ORIGINS: AllowedOrigins,
  CHECKOUT_STATUS_THROTTLE_SECONDS: wholeNumber("CHECKOUT_STATUS_THROTTLE_SECONDS", 5, 1, 300),
}).superRefine(requireSecretKey);

export type StatusConfig = z.infer<typeof StatusConfigSchema>;

export function parseStatusConfig(env: Record<string, string | undefined>): StatusConfig {
  return parseEnv(StatusConfigSchema, env, "checkout-status configuration");
}
