/**
 * The checkout's first database step (README: "How a request runs"): the claim of the
 * client key and begin_checkout in one RPC, claim_and_begin_checkout; or, for a user's
 * first checkout, whose Stripe Customer must be created under the lease first, begin on
 * its own after the Customer.
 */
import type { GuestCheckoutDeps } from "./checkout_deps.ts";
import type { Checkout } from "./checkout_request.ts";
import { sessionExpiresInSeconds } from "./config.ts";
import { asJson, call, type RpcOutcome } from "./db.ts";
import { type ClaimStep, type RequestLease, withFirst } from "./request_idempotency.ts";

export type Begun = RpcOutcome<"begin_checkout">;

/** The begin arguments every checkout sends, whether begin rides on the claim or not. */
function beginArgs(checkout: Checkout, config: GuestCheckoutDeps["config"]) {
  return {
    p_scope: checkout.scope,
    p_idempotency_key: checkout.clientKey,
    p_request_fingerprint: checkout.fingerprint,
    p_items: asJson(checkout.items),
    p_success_url: checkout.success_url,
    p_cancel_url: checkout.cancel_url,
    p_email: checkout.email,
    p_user_id: checkout.user?.id,
    p_promotion_code: checkout.promotion_code,
    p_session_ttl_seconds: sessionExpiresInSeconds(config),
    p_lease_seconds: config.IDEMPOTENCY_LEASE_SECONDS,
    p_client_ip: checkout.clientIp,
    p_max_pending_per_email: config.PENDING_CHECKOUTS_PER_EMAIL,
    p_max_pending_per_ip: config.PENDING_CHECKOUTS_PER_IP,
  };
}

/**
 * Phases 2 and 3 in one transaction: the claim, and on a held lease begin — the order
 * (once per client key), its prices, the stock reservation and the Stripe operation's
 * claim. `first` is null when begin waits for the user's first Stripe Customer.
 */
export function claimAndBegin(
  checkout: Checkout,
  deps: GuestCheckoutDeps,
): ClaimStep<Begun | null> {
  return async () => {
    const { claim, begun } = await call(deps.rpc, "claim_and_begin_checkout", {
      ...beginArgs(checkout, deps.config),
      p_ttl_seconds: deps.config.IDEMPOTENCY_KEY_TTL_HOURS * 3600,
    });
    return withFirst(claim, begun);
  };
}

/** Phase 3 on its own, after the user's Customer was created under the lease. */
export function beginCheckout(
  checkout: Checkout,
  customer: string | undefined,
  lease: RequestLease,
  deps: GuestCheckoutDeps,
): Promise<Begun> {
  return call(deps.rpc, "begin_checkout", {
    ...beginArgs(checkout, deps.config),
    p_request_lease_token: lease.token,
    p_stripe_customer_id: customer,
  });
}
