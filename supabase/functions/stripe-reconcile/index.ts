import { readEnv } from "../_shared/config.ts";
import { projectSecretKeyCheck } from "../_shared/auth.ts";
import { parseReconcileConfig } from "../_shared/reconcile_config.ts";
import { reconcile } from "../_shared/reconcile.ts";
import { createServerTaskHandler } from "../_shared/server_task.ts";
import { serviceRpc, stripeClientOf } from "../_shared/service_clients.ts";

/** A run stops at Stripe's first 429/5xx and the next scheduled one continues: no SDK retries. */
const STRIPE_TIMEOUT_MS = 10_000;

const config = parseReconcileConfig(readEnv());
const rpc = serviceRpc(config);
const stripe = stripeClientOf(config, { maxNetworkRetries: 0, timeoutMs: STRIPE_TIMEOUT_MS });
Deno.serve(createServerTaskHandler(
  projectSecretKeyCheck(config),
  () => reconcile({ config, rpc, stripe }),
));
