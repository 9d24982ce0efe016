// @ts-check
/**
 * `createCheckout`: one Checkout Session for the cart, however often it is called, clicked or
 * retried. The key comes from the cart (idempotency_key.js); every retry sends that same key,
 * so the server answers a repeat with the order it already made (README: "Request idempotency").
 * `cancelCheckout`: back on cancel_url, the order that key made gives its reservation back
 * (README: "Cancelling a checkout"); the cancel is idempotent too, and retried the same way.
 *
 * Retried, with the same key: no HTTP answer, 409 `idempotency_key_in_use` (another attempt
 * holds the lease; `Retry-After` is honoured up to a limit) and 503 (Stripe or the function
 * unavailable).
 * Never retried: every other 4xx, and 5xx other than 503 (a stored 502 would only replay).
 */
import { checkoutFingerprint, normalizeCheckoutRequest } from "./checkout_request.js";
import {
  getOrCreateIdempotencyKey,
  onOrderClosed,
  readStoredKey,
  rememberOrder,
  renewIdempotencyKey,
} from "./idempotency_key.js";
import { DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay } from "./retry.js";
import { NetworkError } from "./transport.js";

/** @typedef {import("./checkout_request.js").CheckoutRequest} CheckoutRequest */
/** @typedef {import("./idempotency_key.js").KeyStorage} KeyStorage */
/** @typedef {import("./retry.js").RetryPolicy} RetryPolicy */
/** @typedef {import("./transport.js").Transport} Transport */
/** @typedef {import("./transport.js").TransportRequest} TransportRequest */
/** @typedef {import("./transport.js").TransportResponse} TransportResponse */
/** @typedef {"guest-checkout" | "enhanced-checkout"} CheckoutFunction */

/**
 * @typedef {object} CheckoutSession the server's answer (README: "Success"), plus how it was reached
 * @property {string} order_id
 * @property {string} status
 * @property {string} checkout_session_id
 * @property {string} checkout_url
 * @property {number} amount_total
 * @property {string} currency
 * @property {string} expires_at
 * @property {boolean} replayed `Idempotent-Replayed: true`: an earlier attempt made it
 * @property {string} idempotency_key
 * @property {number} attempts requests sent, retries and a renewal included
 */

/**
 * @typedef {object} RetryEvent
 * @property {number} attempt the attempt that failed (1-based)
 * @property {number} delayMs the wait before the next one
 * @property {string} reason "network" or the error code
 */

/**
 * @typedef {object} CheckoutOptions
 * @property {Transport} transport
 * @property {CheckoutFunction} [functionName] default: enhanced with an accessToken, else guest
 * @property {string} [accessToken] the signed-in user's JWT, sent as `Authorization: Bearer`
 * @property {KeyStorage} [storage] where the key lives; default localStorage
 * @property {() => number} [now] epoch milliseconds
 * @property {() => number} [random] in [0, 1)
 * @property {() => string} [randomUUID]
 * @property {(ms: number) => Promise<void>} [sleep]
 * @property {Partial<RetryPolicy>} [retry]
 * @property {number} [expiryMarginMs] a replayed session expiring sooner than this is renewed
 * @property {(event: RetryEvent) => void} [onRetry]
 */

/**
 * @typedef {object} CancelledCheckout the cancel route's answer (README: "Cancelling a checkout")
 * @property {string} order_id
 * @property {string} status `expired` when released now or before; `payment_failed` or `failed`
 *   when the order had already ended unpaid
 * @property {string} idempotency_key the key that made the order (now replaced in storage)
 * @property {number} attempts requests sent, retries included
 */

/**
 * @typedef {object} CancelOptions
 * @property {Transport} transport
 * @property {CheckoutFunction} [functionName] default: the function that made the stored order
 * @property {string} [accessToken] the signed-in user's JWT (enhanced checkout)
 * @property {KeyStorage} [storage] where the key lives; default localStorage
 * @property {() => number} [now] epoch milliseconds
 * @property {() => number} [random] in [0, 1)
 * @property {() => string} [randomUUID]
 * @property {(ms: number) => Promise<void>} [sleep]
 * @property {Partial<RetryPolicy>} [retry]
 * @property {(event: RetryEvent) => void} [onRetry]
 */

/**
 * Nobody can pay a session in the seconds before it expires; treat those as expired.
 */
export const DEFAULT_EXPIRY_MARGIN_MS = 60_000;

/** A checkout that did not produce a session; `code` is the server's error code. */
export class CheckoutError extends Error {
  /**
   * @param {object} fields
   * @param {number} fields.status HTTP status; 0 when no answer came back
   * @param {string} fields.code
   * @param {string} fields.message
   * @param {unknown} [fields.details]
   * @param {number} [fields.retryAfterMs]
   * @param {string} fields.idempotencyKey kept in storage; a later retry reuses it
   * @param {number} fields.attempts
   */
  constructor(fields) {
    super(fields.message);
    this.name = "CheckoutError";
    this.status = fields.status;
    this.code = fields.code;
    this.details = fields.details;
    this.retryAfterMs = fields.retryAfterMs;
    this.idempotencyKey = fields.idempotencyKey;
    this.attempts = fields.attempts;
  }
}

/**
 * @param {CheckoutRequest} request
 * @param {CheckoutOptions} options
 * @returns {Promise<CheckoutSession>}
 */
export async function createCheckout(request, options) {
  const functionName = options.functionName ??
    (options.accessToken ? "enhanced-checkout" : "guest-checkout");
  const now = options.now ?? Date.now;
  const keyOptions = { storage: options.storage, randomUUID: options.randomUUID, now };
  const body = normalizeCheckoutRequest(request);
  const cart = await checkoutFingerprint(functionName, body);
  // No await between here and the first send's key use: two clicks get one key.
  let key = getOrCreateIdempotencyKey(cart, keyOptions);
  let attempts = 0;
  let renewed = false;
  for (;;) {
    const session = await sendWithRetries(
      { functionName, body },
      key,
      options,
      attempts,
      toSession,
    );
    attempts = session.attempts;
    const margin = options.expiryMarginMs ?? DEFAULT_EXPIRY_MARGIN_MS;
    // Only a replay can be stale: a session made just now is fresh whatever our clock says.
    if (session.replayed && !renewed && Date.parse(session.expires_at) - margin <= now()) {
      renewed = true;
      key = renewIdempotencyKey(cart, key, keyOptions);
      continue;
    }
    rememberOrder(key, session.order_id, functionName, keyOptions);
    return session;
  }
}

/**
 * Releases the order the stored key made (the shopper is back on cancel_url): the server
 * expires it, gives its stock back and expires its Checkout Session. The key is then replaced
 * (`onOrderClosed`), since its order can never be paid: checking out the same cart again makes
 * a new order. Resolves undefined when no order is stored (no checkout answered yet, or the key
 * was replaced since). Rejects with a CheckoutError otherwise, keeping the key: 409
 * `order_paid` (paid, or a delayed payment under way), 404 `order_not_found` (say the order was
 * made signed in and this call is not).
 *
 * @param {CancelOptions} options
 * @returns {Promise<CancelledCheckout | undefined>}
 */
export async function cancelCheckout(options) {
  const keyOptions = { storage: options.storage, randomUUID: options.randomUUID, now: options.now };
  const stored = readStoredKey(keyOptions);
  if (!stored?.order_id) return undefined;
  const functionName = options.functionName ??
    (stored.function_name === "enhanced-checkout" || stored.function_name === "guest-checkout"
      ? stored.function_name
      : options.accessToken
      ? "enhanced-checkout"
      : "guest-checkout");
  const cancelled = await sendWithRetries(
    { functionName, route: "cancel", body: { order_id: stored.order_id } },
    stored.key,
    options,
    0,
    toCancelled,
  );
  // Another tab may have moved on to a new key meanwhile; only ours is retired.
  if (readStoredKey(keyOptions)?.key === stored.key) onOrderClosed(keyOptions);
  return cancelled;
}

/**
 * Sends one request under `key` until it gets an answer to keep: a 2xx (read by `read`) or an
 * error that retrying cannot change.
 *
 * @template T
 * @param {Omit<TransportRequest, "headers">} request
 * @param {string} key
 * @param {CheckoutOptions | CancelOptions} options
 * @param {number} attemptsBefore
 * @param {(response: TransportResponse, key: string, attempts: number) => T} read
 * @returns {Promise<T>}
 */
async function sendWithRetries(request, key, options, attemptsBefore, read) {
  const policy = { ...DEFAULT_RETRY_POLICY, ...options.retry };
  const now = options.now ?? Date.now;
  const random = options.random ?? Math.random;
  const sleep = options.sleep ??
    ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  /** @type {Record<string, string>} */
  const headers = { "Idempotency-Key": key };
  if (options.accessToken) headers["Authorization"] = `Bearer ${options.accessToken}`;

  for (let attempt = 1;; attempt++) {
    /** @type {CheckoutError} */
    let failure;
    try {
      const response = await options.transport({
        ...request,
        headers,
        body: { ...request.body },
      });
      if (response.status >= 200 && response.status < 300) {
        return read(response, key, attemptsBefore + attempt);
      }
      failure = toError(response, key, attemptsBefore + attempt, now());
      if (!isRetryable(failure)) throw failure;
    } catch (error) {
      if (error instanceof CheckoutError) throw error;
      if (!(error instanceof NetworkError)) throw error;
      failure = new CheckoutError({
        status: 0,
        code: "network_error",
        message: error.message,
        idempotencyKey: key,
        attempts: attemptsBefore + attempt,
      });
    }
    if (attempt >= policy.maxAttempts) throw failure;
    // A server may name the latest moment (the end of a 60 s lease) rather than a likely one;
    // with the same key an early retry costs one more 409 at worst, never a second order.
    const retryAfterMs = failure.retryAfterMs === undefined
      ? undefined
      : Math.min(failure.retryAfterMs, policy.maxRetryAfterMs);
    const delayMs = retryDelay(attempt, retryAfterMs, policy, random);
    options.onRetry?.({ attempt, delayMs, reason: failure.code });
    await sleep(delayMs);
  }
}

/**
 * @param {CheckoutError} error
 * @returns {boolean}
 */
function isRetryable(error) {
  if (error.status === 409) return error.code === "idempotency_key_in_use";
  return error.status === 503;
}

/**
 * @param {TransportResponse} response
 * @param {string} key
 * @param {number} attempts
 * @returns {CheckoutSession}
 */
function toSession(response, key, attempts) {
  const b = response.body;
  if (
    typeof b === "object" && b !== null &&
    "order_id" in b && typeof b.order_id === "string" &&
    "status" in b && typeof b.status === "string" &&
    "checkout_session_id" in b && typeof b.checkout_session_id === "string" &&
    "checkout_url" in b && typeof b.checkout_url === "string" &&
    "amount_total" in b && typeof b.amount_total === "number" &&
    "currency" in b && typeof b.currency === "string" &&
    "expires_at" in b && typeof b.expires_at === "string"
  ) {
    return {
      order_id: b.order_id,
      status: b.status,
      checkout_session_id: b.checkout_session_id,
      checkout_url: b.checkout_url,
      amount_total: b.amount_total,
      currency: b.currency,
      expires_at: b.expires_at,
      replayed: response.header("Idempotent-Replayed") === "true",
      idempotency_key: key,
      attempts,
    };
  }
  throw invalidResponse(response, "a checkout session", key, attempts);
}

/**
 * @param {TransportResponse} response
 * @param {string} key
 * @param {number} attempts
 * @returns {CancelledCheckout}
 */
function toCancelled(response, key, attempts) {
  const b = response.body;
  if (
    typeof b === "object" && b !== null &&
    "order_id" in b && typeof b.order_id === "string" &&
    "status" in b && typeof b.status === "string"
  ) {
    return { order_id: b.order_id, status: b.status, idempotency_key: key, attempts };
  }
  throw invalidResponse(response, "a cancelled order", key, attempts);
}

/**
 * @param {TransportResponse} response
 * @param {string} expected what a 2xx answer should have carried
 * @param {string} key
 * @param {number} attempts
 * @returns {CheckoutError}
 */
function invalidResponse(response, expected, key, attempts) {
  return new CheckoutError({
    status: response.status,
    code: "invalid_response",
    message: `a ${response.status} answer without ${expected}: ${JSON.stringify(response.body)}`,
    idempotencyKey: key,
    attempts,
  });
}

/**
 * @param {TransportResponse} response
 * @param {string} key
 * @param {number} attempts
 * @param {number} nowMs
 * @returns {CheckoutError}
 */
function toError(response, key, attempts, nowMs) {
  const b = response.body;
  // Ours is `{error:{code,message}}`; a gateway in front (Supabase's, for a bad JWT) answers
  // `{code,message}` or `{msg}` itself.
  const error = typeof b === "object" && b !== null && "error" in b &&
      typeof b.error === "object" && b.error !== null
    ? b.error
    : typeof b === "object" && b !== null
    ? { message: "message" in b ? b.message : "msg" in b ? b.msg : undefined }
    : {};
  return new CheckoutError({
    status: response.status,
    code: "code" in error && typeof error.code === "string"
      ? error.code
      : `http_${response.status}`,
    message: "message" in error && typeof error.message === "string"
      ? error.message
      : `checkout answered ${response.status}`,
    details: "details" in error ? error.details : undefined,
    retryAfterMs: parseRetryAfter(response.header("Retry-After"), nowMs),
    idempotencyKey: key,
    attempts,
  });
}
