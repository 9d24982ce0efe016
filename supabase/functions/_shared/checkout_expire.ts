/**
 * Expiring an order's Checkout Session at Stripe, as its own idempotent operation
 * `checkout:expire:<order id>:<uuid>` (README: "Cancelling a checkout"): used when an
 * order closed while its session was being created, by the cancel route, and by any job
 * that expires the sessions of released orders. One expiry per order: the operation's
 * fingerprint is the session id, so a second call for the same session answers from the
 * stored outcome without calling Stripe.
 */
import type { Stripe } from "./stripe.ts";
import type { Config } from "./config.ts";
import { call, type Rpc, unexpected } from "./db.ts";
import {
  classifyStripeError,
  genericWrites,
  runStripeOperation,
  type StripeFailure,
} from "./checkout-utils.ts";

export interface ExpireDeps {
  rpc: Rpc;
  stripe: { checkout: Pick<Stripe["checkout"], "sessions"> };
  config: Pick<Config, "IDEMPOTENCY_LEASE_SECONDS">;
}

/**
 * `expired`: the session is expired at Stripe (now or before); `in_progress`: another
 * caller holds the operation; `unavailable`: Stripe did not answer, the operation stays
 * open for a retry; `refused`: Stripe will not expire it (it completed: a payment is
 * under way or done, which the webhook settles); `rejected`: Stripe refused the expiry of
 * a session that is still open (nothing completed; the failed operation takes a new key
 * next time); `mismatch`: the order's expiry was already claimed for another session.
 */
export type ExpireOutcome =
  | { outcome: "expired" }
  | { outcome: "in_progress"; retry_after_seconds: number }
  | { outcome: "unavailable"; failure: StripeFailure }
  | { outcome: "refused"; failure: StripeFailure }
  | { outcome: "rejected"; failure: StripeFailure }
  | { outcome: "mismatch" };

export const EXPIRE_OPERATION = "checkout:expire";

/** The failure code of a refused expiry whose session Stripe still shows open. */
const STILL_OPEN = "session_still_open";

export async function expireCheckoutSession(
  deps: ExpireDeps,
  orderId: string,
  sessionId: string,
): Promise<ExpireOutcome> {
  const claim = await call(deps.rpc, "check_stripe_idempotency", {
    p_operation_type: EXPIRE_OPERATION,
    p_operation_id: orderId,
    p_request_fingerprint: sessionId,
    p_lease_seconds: deps.config.IDEMPOTENCY_LEASE_SECONDS,
    p_metadata: { session_id: sessionId },
  });
  switch (claim.outcome) {
    case "succeeded":
      return { outcome: "expired" };
    case "in_progress":
      return claim;
    case "mismatch":
      return claim;
    case "claimed":
      break;
    default:
      return unexpected(claim);
  }
  const operation = {
    p_operation_type: EXPIRE_OPERATION,
    p_operation_id: orderId,
    p_lease_token: claim.lease_token,
  };
  const run = await runStripeOperation({
    key: claim.stripe_idempotency_key,
    call: (options) => expireOrFindExpired(deps.stripe, sessionId, options),
    record: (session) =>
      call(deps.rpc, "record_stripe_idempotency", {
        ...operation,
        p_stripe_resource_id: session.id,
      }),
    ...genericWrites(deps.rpc, operation),
  });
  switch (run.outcome) {
    case "recorded":
      return { outcome: "expired" };
    case "released":
      return { outcome: "unavailable", failure: run.failure };
    case "failed":
      return run.failure.code === STILL_OPEN
        ? { outcome: "rejected", failure: run.failure }
        : { outcome: "refused", failure: run.failure };
    case "lease_lost":
      return { outcome: "in_progress", retry_after_seconds: 1 };
    default:
      return unexpected(run);
  }
}

/**
 * Stripe refuses to expire a session that is no longer open. One that expired already
 * (Stripe's own expiry, or an earlier attempt whose answer was lost under another key)
 * is what we wanted; a completed one is a refusal. One still open was refused for some
 * other reason: nobody has paid it, so it must not read as a completion.
 */
async function expireOrFindExpired(
  stripe: ExpireDeps["stripe"],
  sessionId: string,
  options: { idempotencyKey: string },
): Promise<Stripe.Checkout.Session> {
  try {
    return await stripe.checkout.sessions.expire(sessionId, {}, options);
  } catch (error) {
    if (classifyStripeError(error).kind !== "terminal") throw error;
    const session = await stripe.checkout.sessions.retrieve(sessionId);
    if (session.status === "expired") return session;
    if (session.status === "open") {
      const { status, message } = classifyStripeError(error);
      throw { statusCode: status, type: "invalid_request_error", code: STILL_OPEN, message };
    }
    throw error;
  }
}

/**
 * The session Stripe made for an order that closed while it was being created: expired
 * so that it never stays payable. An expiry left open is retried by the next call of the
 * same operation, so a failure here is only logged.
 */
export async function expireClosedOrderSession(
  deps: ExpireDeps,
  orderId: string,
  sessionId: string,
): Promise<void> {
  const expired = await expireCheckoutSession(deps, orderId, sessionId);
  if (expired.outcome !== "expired") {
    console.error(`session ${sessionId} of closed order ${orderId} not expired`, expired);
  }
}
