import { parseConfig, readEnv } from "../_shared/config.ts";
import { enhancedCheckoutDeps } from "../_shared/enhanced_checkout_deps.ts";
import { createEnhancedCheckoutHandler } from "../_shared/checkout_flow.ts";

Deno.serve(createEnhancedCheckoutHandler(enhancedCheckoutDeps(parseConfig(readEnv()))));
