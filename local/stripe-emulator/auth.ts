/** API key checks as Stripe answers them: 401 with Stripe's messages. */
import { StripeApiError } from "./errors.ts";

function masked(key: string): string {
  const prefix = key.startsWith("sk_test_") ? "sk_test_" : key.slice(0, 3);
  return `${prefix}${"*".repeat(Math.max(0, key.length - prefix.length - 4))}${key.slice(-4)}`;
}

/**
 * Returns the API key of the request (Bearer, or Basic with the key as user name as curl's
 * `-u sk_test_…:` sends it). Stripe answers both failures with type `invalid_request_error`
 * and status 401; the SDK raises StripeAuthenticationError for the status.
 */
export function authenticate(request: Request, expectedKey: string | undefined): string {
  const header = request.headers.get("authorization") ?? "";
  let key = "";
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  const basic = /^Basic\s+(\S+)$/i.exec(header);
  if (bearer) key = bearer[1] ?? "";
  else if (basic) {
    try {
      key = atob(basic[1] ?? "").split(":")[0] ?? "";
    } catch {
      key = "";
    }
  }
  if (key === "") {
    throw new StripeApiError(
      401,
      "invalid_request_error",
      "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.",
    );
  }
  const valid = expectedKey !== undefined
    ? key === expectedKey
    : /^sk_test_[A-Za-z0-9_]+$/.test(key);
  if (!valid) {
    throw new StripeApiError(
      401,
      "invalid_request_error",
      `Invalid API Key provided: ${masked(key)}`,
      "api_key_invalid",
    );
  }
  return key;
}
