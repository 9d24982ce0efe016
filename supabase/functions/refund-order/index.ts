import { parseConfig, readEnv } from "../_shared/config.ts";
import { refundDeps } from "../_shared/refund_deps.ts";
import { createRefundHandler } from "../_shared/refund_flow.ts";

Deno.serve(createRefundHandler(refundDeps(parseConfig(readEnv()))));
