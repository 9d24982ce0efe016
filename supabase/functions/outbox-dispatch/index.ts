import { readEnv } from "../_shared/config.ts";
import { projectSecretKeyCheck } from "../_shared/auth.ts";
import { parseOutboxConfig } from "../_shared/outbox_config.ts";
import { dispatchOutbox } from "../_shared/outbox_dispatch.ts";
import { createServerTaskHandler } from "../_shared/server_task.ts";
import { serviceRpc } from "../_shared/service_clients.ts";

const config = parseOutboxConfig(readEnv());
const rpc = serviceRpc(config);
Deno.serve(createServerTaskHandler(
  projectSecretKeyCheck(config),
  () => dispatchOutbox({ config, rpc }),
));
