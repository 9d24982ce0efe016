import { readEnv } from "../_shared/config.ts";
import { serviceRpc, stripeClientOf } from "../_shared/service_clients.ts";
import { parseStatusConfig } from "../_shared/status_config.ts";
import { createStatusHandler } from "../_shared/status_handler.ts";

/** A landing page polls; a look-up that takes longer than this answers the stored status. */
const STRIPE_LOOKUP_TIMEOUT_MS = 5_000;

const config = parseStatusConfig(readEnv());
Deno.serve(createStatusHandler({
  config,
  rpc: serviceRpc(config),
  stripe: stripeClientOf(config, { maxNetworkRetries: 0, timeoutMs: STRIPE_LOOKUP_TIMEOUT_MS }),
}));
