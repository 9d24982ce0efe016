import { canonicalJson } from "./canonical_json.ts";

/**
 * Every error the HTTP functions answer with (SPEC §4), its status and its
 * user-facing message: the one place these live.
 */
export const ERRORS = {
  method_not_allowed: { status: 405, message: "Use POST." },
  unsupported_media_type: { status: 415, message: "Send the body as application/json." },
  payload_too_large: { status: 413, message: "The request body is larger than 64 KiB." },
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
  idempotency_key_reused: {
    status: 422,
    message: "This Idempotency-Key was used with a different request body.",
  },
  stripe_rejected: { status: 502, message: "The payment provider rejected the checkout." },
  stripe_unavailable: {
    status: 503,
    message: "The payment provider is unavailable; retry with the same Idempotency-Key.",
  },
  internal_error: { status: 500, message: "Something went wrong on our side." },
  // stripe-webhook (SPEC §5)
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
} as const satisfies Record<string, { status: number; message: string }>;

export type ErrorCode = keyof typeof ERRORS;

/** An expected failure, carried up to the one place that turns errors into responses. */
export class ApiError extends Error {
  override name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    readonly details?: unknown,
    readonly retryAfterSeconds?: number,
    /** The database already holds this outcome (stored or released): only answer it. */
    readonly settled = false,
  ) {
    super(`${code}: ${ERRORS[code].message}`);
  }
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

/**
 * Which answers are stored for replay (SPEC §3): every status below 500, and the
 * terminal 502 stripe_rejected (Stripe will not change its mind). A 409 in_use
 * belongs to another request and is never stored.
 */
export function isStoredResponse(status: number, code?: ErrorCode): boolean {
  if (code === "idempotency_key_in_use") return false;
  return status < 500 || code === "stripe_rejected";
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
