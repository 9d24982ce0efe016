import { readEnv } from "../_shared/config.ts";
import { guestCheckoutDeps, parseGuestConfig } from "../_shared/checkout_deps.ts";
import { createGuestCheckoutHandler } from "../_shared/checkout_flow.ts";

Deno.serve(createGuestCheckoutHandler(guestCheckoutDeps(parseGuestConfig(readEnv()))));
