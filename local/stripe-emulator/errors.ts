/** Stripe's v1 error object and the few error types this emulator answers with. */

export type StripeErrorType =
  | "invalid_request_error"
  | "idempotency_error"
  | "api_error"
  | "authentication_error";

export interface StripeErrorBody {
  error: {
    type: StripeErrorType;
    message: string;
    code?: string;
    param?: string;
    doc_url?: string;
    request_log_url?: string;
  };
}

/** A request Stripe rejects: thrown by validators and actions, turned into JSON in one place. */
export class StripeApiError extends Error {
  constructor(
    readonly status: number,
    readonly type: StripeErrorType,
    message: string,
    readonly code?: string,
    readonly param?: string,
  ) {
    super(message);
  }

  toBody(): StripeErrorBody {
    return {
      error: {
        type: this.type,
        message: this.message,
        ...(this.code
          ? {
            code: this.code,
            doc_url: `https://stripe.com/docs/error-codes/${this.code.replaceAll("_", "-")}`,
          }
          : {}),
        ...(this.param ? { param: this.param } : {}),
      },
    };
  }
}

export function invalidRequest(message: string, param?: string, code?: string): StripeApiError {
  return new StripeApiError(400, "invalid_request_error", message, code, param);
}

export function resourceMissing(
  kind: string,
  id: string,
  param: string,
  status = 400,
): StripeApiError {
  return new StripeApiError(
    status,
    "invalid_request_error",
    `No such ${kind}: '${id}'`,
    "resource_missing",
    param,
  );
}

/** The object with this id, or Stripe's `resource_missing` naming `param`. */
export function requireObject<T>(
  objects: ReadonlyMap<string, T>,
  kind: string,
  id: string,
  param = "id",
  status = 404,
): T {
  const object = objects.get(id);
  if (object === undefined) throw resourceMissing(kind, id, param, status);
  return object;
}

/**
 * The error body for a status injected by a fault. It mirrors what Stripe (or a proxy in front
 * of it) sends for that status, so the SDK maps it to the same error class it would in production.
 */
export function injectedError(status: number): StripeApiError {
  if (status === 429) {
    return new StripeApiError(
      status,
      "invalid_request_error",
      "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.",
      "rate_limit",
    );
  }
  if (status === 409) {
    return new StripeApiError(
      status,
      "invalid_request_error",
      "This object cannot be accessed right now because another API request or Stripe process is currently accessing it.",
      "lock_timeout",
    );
  }
  if (status >= 400 && status < 500) {
    return new StripeApiError(
      status,
      "invalid_request_error",
      `Injected ${status} error (emulator fault).`,
    );
  }
  return new StripeApiError(
    status,
    "api_error",
    "An unknown error occurred while processing your request (injected by the Stripe emulator).",
  );
}
