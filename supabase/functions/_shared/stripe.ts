import Stripe from "npm:stripe@23.1.0";

export { Stripe };

/** The API version every call pins, so an account default never changes response shapes. */
export const STRIPE_API_VERSION = "2026-10-28.endive";

/**
 * The client timeout per attempt when none is given. The functions take theirs from
 * STRIPE_TIMEOUT_MS (config.ts), which checks it against the idempotency lease.
 */
export const DEFAULT_STRIPE_TIMEOUT_MS = 20_000;

export interface StripeClientOptions {
  secretKey: string;
  /** e.g. `http://127.0.0.1:12111` for the emulator; unset means api.stripe.com. */
  apiBase?: string;
  /** The SDK retries network errors, 409 and 429 with the same idempotency key. */
  maxNetworkRetries?: number;
  timeoutMs?: number;
}

/** The one place the project builds a Stripe client (functions, local stack and tests). */
export function createStripeClient(options: StripeClientOptions): Stripe {
  const base = options.apiBase ? new URL(options.apiBase) : undefined;
  return new Stripe(options.secretKey, {
    apiVersion: STRIPE_API_VERSION,
    httpClient: Stripe.createFetchHttpClient(),
    maxNetworkRetries: options.maxNetworkRetries ?? 1,
    timeout: options.timeoutMs ?? DEFAULT_STRIPE_TIMEOUT_MS,
    ...(base
      ? {
        host: base.hostname,
        port: base.port || (base.protocol === "https:" ? "443" : "80"),
        protocol: base.protocol === "https:" ? "https" : "http",
      }
      : {}),
  });
}

/** Stripe's webhook signature checks need SubtleCrypto under Deno. */
export const stripeCryptoProvider = Stripe.createSubtleCryptoProvider();
