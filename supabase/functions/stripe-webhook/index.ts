import { readEnv } from "../_shared/config.ts";
import { parseWebhookConfig } from "../_shared/webhook_config.ts";
import { webhookDeps } from "../_shared/webhook_deps.ts";
import { createWebhookHandler } from "../_shared/webhook_handler.ts";

Deno.serve(createWebhookHandler(webhookDeps(parseWebhookConfig(readEnv()))));
