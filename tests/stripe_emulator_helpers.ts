/** Shared set-up of the emulator tests: a fresh emulator per test, reached by the real SDK. */
import assert from "node:assert/strict";
import { createStripeClient, Stripe } from "../supabase/functions/_shared/stripe.ts";
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

/** The session lifetime the tests send: Stripe's 30-minute floor plus a minute of margin. */
export const SESSION_TTL_WITH_MARGIN_SECONDS = 31 * 60;

/** A two-item Checkout Session as the checkout functions create one, for `orderId`. */
export function twoItemSessionParams(
  now: number,
  orderId: string,
  /**
   * The emulator, like Stripe, wants expires_at at least 30 minutes after it receives the
   * call, with no grace: a minute of margin keeps a second ticking over from failing a test.
   */
  expiresInSeconds = SESSION_TTL_WITH_MARGIN_SECONDS,
): Stripe.Checkout.SessionCreateParams {
  return {
    mode: "payment",
    line_items: [
      {
        quantity: 2,
        price_data: { currency: "usd", unit_amount: 1500, product_data: { name: "Widget" } },
      },
      {
        quantity: 1,
        price_data: { currency: "usd", unit_amount: 1200, product_data: { name: "Gadget" } },
      },
    ],
    success_url: "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
    cancel_url: "https://shop.example/cart",
    client_reference_id: orderId,
    customer_email: "ada@example.com",
    metadata: { order_id: orderId },
    payment_intent_data: { metadata: { order_id: orderId } },
    expires_at: now + expiresInSeconds,
  };
}

/** A two-item session for `orderId`, paid by card through the control API (4200 usd). */
export async function paidTwoItemSession(
  { stripe, control }: Pick<EmulatorContext, "stripe" | "control">,
  orderId: string,
): Promise<Stripe.Checkout.Session> {
  const { now } = await control.clock();
  const session = await stripe.checkout.sessions.create(twoItemSessionParams(now, orderId));
  await control.pay(session.id);
  return await stripe.checkout.sessions.retrieve(session.id);
}

/** The StripeError a call fails with (the test fails if it succeeds or throws something else). */
export async function stripeRejection(
  promise: Promise<unknown>,
): Promise<Stripe.errors.StripeError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Stripe.errors.StripeError, `expected a StripeError, got ${error}`);
    return error;
  }
  return assert.fail("expected the call to fail");
}
