import { canonicalJson } from "./canonical_json.ts";

/**
 * Every error the HTTP functions answer with (README: "Errors"), its status and its
 * user-facing message: the one place these live.
 */
export const ERRORS = {
  method_not_allowed: {
    status: 405,
    message: "This method is not allowed here; the Allow header names the one to use.",
  },
  unsupported_media_type: {
    status: 415,
    message: "Send the body as application/json in UTF-8.",
  },
  payload_too_large: {
    status: 413,
    message: "The request body is too large (details.limit_bytes is the limit).",
  },
  invalid_json: { status: 400, message: "The request body is not valid UTF-8 JSON." },
  invalid_request: { status: 400, message: "The request body does not match the schema." },
  idempotency_key_missing: {
    status: 400,
    message: "Send an Idempotency-Key header with a unique value per checkout attempt.",
  },
  idempotency_key_invalid: {
    status: 400,
    message: "The Idempotency-Key must be 1-255 visible ASCII characters.",
  },
  redirect_not_allowed: {
    status: 400,
    message: "success_url and cancel_url must be on an allowed origin.",
  },
  unauthorized: { status: 401, message: "Sign in: a valid user access token is required." },
  auth_unavailable: {
    status: 503,
    message: "The project's signing keys cannot be fetched right now; retry shortly.",
  },
  product_unavailable: { status: 422, message: "Some products do not exist or are not for sale." },
  currency_mismatch: { status: 422, message: "All items of one checkout must share a currency." },
  amount_too_large: { status: 422, message: "The order total exceeds what one checkout can take." },
  insufficient_stock: { status: 409, message: "Some products do not have enough stock." },
  idempotency_key_in_use: {
    status: 409,
    message: "A request with this Idempotency-Key is still being processed; retry later.",
  },
  checkout_closed: {
    status: 409,
    message: "This checkout has ended; start a new one with a new Idempotency-Key.",
  },
  order_paid: {
    status: 409,
    message: "The order is paid, or its payment is under way; it cannot be cancelled.",
  },
  idempotency_key_reused: {
    status: 422,
    message: "This Idempotency-Key was used with a different request body.",
  },
  too_many_pending_checkouts: {
    status: 429,
    message: "Too many checkouts are open for this customer; finish or cancel one, or retry " +
      "with a new Idempotency-Key after Retry-After seconds.",
  },
  stripe_rejected: { status: 502, message: "The payment provider rejected the request." },
  stripe_unavailable: {
    status: 503,
    message: "The payment provider is unavailable; retry with the same Idempotency-Key.",
  },
  internal_error: { status: 500, message: "Something went wrong on our side." },
  // the cancel routes, refund-order and checkout-status
  order_not_found: {
    status: 404,
    message: "There is no such order (no order has this id, Checkout Session or " +
      "Idempotency-Key).",
  },
  // refund-order
  order_not_refundable: { status: 409, message: "This order was never paid: nothing to refund." },
  refund_exceeds_payment: {
    status: 422,
    message: "The refund would take back more than the order paid, less its other refunds.",
  },
  // stripe-webhook
  invalid_signature: {
    status: 400,
    message: "The Stripe-Signature header is missing, malformed, stale or does not match.",
  },
  invalid_event: { status: 400, message: "The signed body is not a Stripe event." },
  event_in_flight: {
    status: 409,
    message: "This event is being applied by another delivery; retry later.",
  },
  event_failed: {
    status: 500,
    message: "The event could not be applied; the failure is recorded and a retry will apply it.",
  },
  // checkout-status
  invalid_session_id: {
    status: 400,
    message: "Pass session_id, a Checkout Session id (cs_…), in the query string.",
  },
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

export interface ApiErrorOptions {
  details?: unknown;
  /** Sent as Retry-After: when the same request may succeed. */
  retryAfter?: number;
}

/** An expected failure, carried up to the one place that turns errors into responses. */
export class ApiError extends Error {
  override name = "ApiError";
  readonly details: unknown;
  readonly retryAfterSeconds: number | undefined;
  constructor(readonly code: ErrorCode, options: ApiErrorOptions = {}) {
    super(`${code}: ${ERRORS[code].message}`);
    this.details = options.details;
    this.retryAfterSeconds = options.retryAfter;
  }
}

/** Another request holds this key (or its Stripe operation): retry after a moment. */
export function keyInUse(retryAfterSeconds = 1): ApiError {
  return new ApiError("idempotency_key_in_use", { retryAfter: retryAfterSeconds });
}

/** Stripe refused the operation (a 4xx): its code is all the client is told. */
export function stripeRejected(stripeCode: string | null | undefined): ApiError {
  return new ApiError("stripe_rejected", { details: { stripe_code: stripeCode ?? null } });
}

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: unknown };
}

export function errorBody(code: ErrorCode, details?: unknown): ErrorBody {
  return {
    error: { code, message: ERRORS[code].message, ...(details === undefined ? {} : { details }) },
  };
}

export function statusOf(code: ErrorCode): number {
  return ERRORS[code].status;
}

/** JSON response with canonical bytes, so a stored body replays identically. */
export function jsonResponse(status: number, body: unknown, headers?: HeadersInit): Response {
  const h = new Headers(headers);
  h.set("content-type", "application/json; charset=utf-8");
  return new Response(canonicalJson(body), { status, headers: h });
}

/**
 * The one function that turns a thrown value into an HTTP response. Unknown errors
 * become a bare 500 that leaks nothing (they are logged here instead).
 */
export function errorResponse(error: unknown, headers?: HeadersInit): Response {
  if (error instanceof ApiError) {
    const h = new Headers(headers);
    if (error.retryAfterSeconds !== undefined) {
      h.set("retry-after", String(error.retryAfterSeconds));
    }
    return jsonResponse(statusOf(error.code), errorBody(error.code, error.details), h);
  }
  console.error("unexpected error", error);
  return jsonResponse(500, errorBody("internal_error"), headers);
}
