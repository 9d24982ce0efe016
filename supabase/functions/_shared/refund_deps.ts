import type { Config } from "./config.ts";
import { projectSecretKeyCheck } from "./auth.ts";
import { serviceRpc, stripeClientOf } from "./service_clients.ts";
import type { RefundDeps } from "./refund_flow.ts";

/** The real dependencies of refund-order, built once at start-up. */
export function refundDeps(config: Config): RefundDeps {
  return {
    config,
    rpc: serviceRpc(config),
    stripe: stripeClientOf(config),
    isSecretKey: projectSecretKeyCheck(config),
  };
}
