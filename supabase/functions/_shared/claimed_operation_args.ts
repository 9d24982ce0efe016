/**
 * The arguments the fenced writes of a Stripe operation claimed under a client key share
 * (checkout: `record_checkout` / `release_checkout` / `fail_checkout`; refund:
 * `record_refund` / `release_refund` / `fail_refund`): both leases, then what release and
 * fail store. Each operation adds its own resource id (`p_order_id`, `p_refund_id`).
 */
import { asJson } from "./db.ts";
import { errorBody, statusOf, stripeRejected } from "./errors.ts";
import { failureJson, type StripeFailure } from "./checkout-utils.ts";
import type { RequestLease } from "./request_idempotency.ts";

/** The client key's lease and the Stripe operation's: every write is fenced by both. */
export function leaseArgs(
  lease: RequestLease,
  claim: { stripe_lease_token: string },
): {
  p_scope: string;
  p_idempotency_key: string;
  p_request_lease_token: string;
  p_stripe_lease_token: string;
} {
  return {
    p_scope: lease.scope,
    p_idempotency_key: lease.key,
    p_request_lease_token: lease.token,
    p_stripe_lease_token: claim.stripe_lease_token,
  };
}

/** A retryable failure: stored on the operation; `p_rekey` after a 5xx Stripe would replay. */
export function releaseArgs(failure: StripeFailure) {
  return { p_error: failureJson(failure), p_rekey: failure.rekey };
}

/** A terminal failure: stored on the operation, and its answer (502) for the client key. */
export function failArgs(failure: StripeFailure) {
  const error = stripeRejected(failure.code);
  return {
    p_error: failureJson(failure),
    p_response_status: statusOf(error.code),
    p_response_body: asJson(errorBody(error.code, error.details)),
  };
}
