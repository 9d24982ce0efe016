import { z } from "npm:zod@4.6.7";
import { BaseEnv, parseEnv, wholeNumber } from "./config.ts";
import { requireSecretKey } from "./supabase_keys.ts";

/** stripe-reconcile's configuration (README "Reconciliation"). */
const ReconcileConfigSchema = BaseEnv.extend({
  RECONCILE_OVERLAP_SECONDS: wholeNumber("RECONCILE_OVERLAP_SECONDS", 300, 0, 86_400),
  RECONCILE_TIME_BUDGET_SECONDS: wholeNumber("RECONCILE_TIME_BUDGET_SECONDS", 60, 1, 300),
  RECONCILE_MAX_ATTEMPTS: wholeNumber("RECONCILE_MAX_ATTEMPTS", 10, 1, 1000),
}).superRefine(requireSecretKey);

export type ReconcileConfig = z.infer<typeof ReconcileConfigSchema>;

export function parseReconcileConfig(env: Record<string, string | undefined>): ReconcileConfig {
  return parseEnv(ReconcileConfigSchema, env, "stripe-reconcile configuration");
}
