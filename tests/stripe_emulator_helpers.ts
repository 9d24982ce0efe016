/** Shared set-up of the emulator tests: a fresh emulator per test, reached by the real SDK. */
import { createStripeClient, type Stripe } from "../supabase/functions/_shared/stripe.ts";
import { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import {
  type Emulator,
  type EmulatorOptions,
  startEmulator,
} from "../local/stripe-emulator/mod.ts";

export const EMULATOR_SECRET_KEY = "sk_test_emulator_tests";

export interface EmulatorContext {
  emulator: Emulator;
  control: EmulatorControl;
  /** The SDK with its own retries off, so each answer reaches the test as sent. */
  stripe: Stripe;
  /** The SDK with retries and timeout of the test's choosing. */
  client: (retries: number, timeoutMs?: number) => Stripe;
}

/** Runs `fn` against an emulator on a free port, stopped (timers and all) afterwards. */
export async function withEmulator(
  options: Partial<EmulatorOptions>,
  fn: (ctx: EmulatorContext) => Promise<void>,
): Promise<void> {
  const emulator = await startEmulator({
    port: 0,
    webhookSecret: "whsec_test_emulator",
    quiet: true,
    ...options,
  });
  try {
    const client = (retries: number, timeoutMs?: number) =>
      createStripeClient({
        secretKey: EMULATOR_SECRET_KEY,
        apiBase: emulator.url,
        maxNetworkRetries: retries,
        timeoutMs,
      });
    await fn({ emulator, control: new EmulatorControl(emulator.url), stripe: client(0), client });
  } finally {
    await emulator.stop();
  }
}
