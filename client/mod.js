// @ts-check
/**
 * The browser client for idempotent checkout: plain ES modules (JavaScript with JSDoc types,
 * type-checked by `deno check`), loadable by a browser without a bundler and by Deno.
 */
export {
  cancelCheckout,
  CheckoutError,
  createCheckout,
  DEFAULT_EXPIRY_MARGIN_MS,
} from "./checkout.js";
export {
  canonicalJson,
  checkoutFingerprint,
  normalizeCheckoutRequest,
} from "./checkout_request.js";
export {
  clearIdempotencyKey,
  createMemoryStorage,
  getOrCreateIdempotencyKey,
  MAX_KEY_AGE_MS,
  onOrderClosed,
  onPaymentFailed,
  onPaymentSucceeded,
  readStoredKey,
  refreshIdempotencyKey,
  rememberOrder,
  renewIdempotencyKey,
  STORAGE_KEY,
} from "./idempotency_key.js";
export { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay } from "./retry.js";
export {
  DEFAULT_REQUEST_TIMEOUT_MS,
  fetchTransport,
  NetworkError,
  supabaseTransport,
} from "./transport.js";
