/**
 * Runs the Stripe emulator on its own:
 *   STRIPE_EMULATOR_PORT (default 12111), STRIPE_WEBHOOK_ENDPOINT (optional),
 *   STRIPE_WEBHOOK_SECRET (required, whsec_…), STRIPE_SECRET_KEY (optional: accept only it),
 *   STRIPE_ASYNC_PAYMENT_DELAY_MS (optional).
 */
import { DEFAULT_EMULATOR_PORT, startEmulator } from "./mod.ts";

function intFromEnv(name: string, fallback: number): number {
  const raw = Deno.env.get(name);
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value)) {
    throw new Error(`${name} must be an integer, got ${JSON.stringify(raw)}`);
  }
  return value;
}

const webhookSecret = Deno.env.get("STRIPE_WEBHOOK_SECRET");
if (!webhookSecret) {
  console.error(
    "STRIPE_WEBHOOK_SECRET is required (a whsec_… string shared with the webhook function).",
  );
  Deno.exit(1);
}

const emulator = await startEmulator({
  port: intFromEnv("STRIPE_EMULATOR_PORT", DEFAULT_EMULATOR_PORT),
  webhookSecret,
  webhookEndpoint: Deno.env.get("STRIPE_WEBHOOK_ENDPOINT") || undefined,
  secretKey: Deno.env.get("STRIPE_SECRET_KEY") || undefined,
  asyncPaymentDelayMs: intFromEnv("STRIPE_ASYNC_PAYMENT_DELAY_MS", 2000),
  quiet: true,
});
console.log(emulator.url);

for (const signal of ["SIGINT", "SIGTERM"] as const) {
  Deno.addSignalListener(signal, () => {
    emulator.stop().finally(() => Deno.exit(0));
  });
}
