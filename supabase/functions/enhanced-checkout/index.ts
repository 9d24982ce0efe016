import { parseConfig, readEnv } from "../_shared/config.ts";
import { checkoutDeps } from "../_shared/checkout_deps.ts";
import { createCheckoutHandler } from "../_shared/checkout_flow.ts";

Deno.serve(createCheckoutHandler("enhanced", checkoutDeps(parseConfig(readEnv()))));
