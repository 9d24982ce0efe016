import { z } from "npm:zod@4.6.7";
import { BaseEnv, parseEnv, wholeNumber } from "./config.ts";
import { requireSecretKey } from "./supabase_keys.ts";

/** outbox-dispatch's configuration (README "The outbox"); it never calls Stripe. */
const OutboxConfigSchema = BaseEnv.pick({
  SUPABASE_URL: true,
  SUPABASE_SECRET_KEYS: true,
  SUPABASE_SERVICE_ROLE_KEY: true,
}).extend({
  OUTBOX_WEBHOOK_URL: z.url({
    protocol: /^https?$/,
    error: "OUTBOX_WEBHOOK_URL must be the http(s) URL that receives the outbox messages",
  }),
  // Standard Webhooks' secret form: whsec_ and the base64 of the key.
  OUTBOX_WEBHOOK_SECRET: z.string({
    error: "OUTBOX_WEBHOOK_SECRET is required (whsec_ followed by a base64 key)",
  }).regex(
    /^whsec_[A-Za-z0-9+/]{16,}={0,2}$/,
    "OUTBOX_WEBHOOK_SECRET must be whsec_ followed by a base64 key of at least 12 bytes",
  ),
  OUTBOX_RETRY_BASE_SECONDS: z.coerce.number({
    error: "OUTBOX_RETRY_BASE_SECONDS must be a number of seconds",
  }).positive("OUTBOX_RETRY_BASE_SECONDS must be positive").max(
    3600,
    "OUTBOX_RETRY_BASE_SECONDS must be at most 3600",
  ).default(30),
  OUTBOX_MAX_ATTEMPTS: wholeNumber("OUTBOX_MAX_ATTEMPTS", 14, 1, 100),
  OUTBOX_CONCURRENCY: wholeNumber("OUTBOX_CONCURRENCY", 4, 1, 50),
  OUTBOX_DELIVERY_TIMEOUT_MS: wholeNumber("OUTBOX_DELIVERY_TIMEOUT_MS", 10_000, 100, 60_000),
}).superRefine(requireSecretKey);

export type OutboxConfig = z.infer<typeof OutboxConfigSchema>;

export function parseOutboxConfig(env: Record<string, string | undefined>): OutboxConfig {
  return parseEnv(OutboxConfigSchema, env, "outbox-dispatch configuration");
}
