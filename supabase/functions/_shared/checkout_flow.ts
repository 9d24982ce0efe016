/**
 * The checkout request, shared by guest-checkout and enhanced-checkout (README:
 * "How a request runs"). Phases, top-down: validate → claim the client key and begin (order,
 * prices, stock, Stripe operation) in one RPC → Stripe → record. A user's first checkout
 * creates their Stripe Customer between the claim and begin. Stripe is never called inside
 * a transaction; every answer comes from a closed set.
 */
import type { VerifiedUser } from "./auth.ts";
import type { EnhancedCheckoutDeps, GuestCheckoutDeps } from "./checkout_deps.ts";
import { asJson, call, unexpected } from "./db.ts";
import { sessionExpiresInSeconds } from "./config.ts";
import { ApiError, errorResponse, keyInUse, stripeRejected } from "./errors.ts";
import { corsHeaders, preflightResponse } from "./http.ts";
import {
  EnhancedCheckoutBody,
  GuestCheckoutBody,
  scopeOf,
  validateCheckout,
} from "./checkout_request.ts";
import { lookUp, runStripeOperation, unrecordedOutcome } from "./checkout-utils.ts";
import { failArgs, leaseArgs, releaseArgs } from "./claimed_operation_args.ts";
import { getOrCreateCustomer } from "./stripe_customer.ts";
import { expireClosedOrderSession } from "./checkout_expire.ts";
import { cancelCheckout, isCancelRequest } from "./checkout_cancel.ts";
import type { Stripe } from "./stripe.ts";
import {
  isoSeconds,
  responseFromOrder,
  responseFromSession,
  sessionParams,
} from "./checkout_session.ts";
import type { OrderSnapshotT } from "./order_snapshot.ts";
import { beginCheckout, type Begun, claimAndBegin } from "./checkout_begin.ts";
import {
  requestIdempotencyDeps,
  type RequestLease,
  withRequestIdempotency,
  type WorkOutcome,
} from "./request_idempotency.ts";

type Handler = (req: Request) => Promise<Response>;

/** What tells the two checkout functions apart. */
interface CheckoutKind {
  body: typeof GuestCheckoutBody | typeof EnhancedCheckoutBody;
  /** The signed-in user, or undefined for a guest; a bad token is refused here. */
  user(req: Request): Promise<VerifiedUser | undefined>;
  /** The user's Stripe Customer, under the request lease. */
  customer(lease: RequestLease, user?: VerifiedUser): Promise<string | ApiError | undefined>;
}

export function createGuestCheckoutHandler(deps: GuestCheckoutDeps): Handler {
  return checkoutHandler(deps, {
    body: GuestCheckoutBody,
    user: () => Promise.resolve(undefined),
    customer: () => Promise.resolve(undefined),
  });
}

export function createEnhancedCheckoutHandler(deps: EnhancedCheckoutDeps): Handler {
  return checkoutHandler(deps, {
    body: EnhancedCheckoutBody,
    user: async (req) => {
      const user = await deps.verifyUser(req.headers.get("authorization"));
      if (!user) throw new ApiError("unauthorized");
      return user;
    },
    customer: async (lease, user) => user && await getOrCreateCustomer(deps, lease, user),
  });
}

function checkoutHandler(deps: GuestCheckoutDeps, kind: CheckoutKind): Handler {
  const { config } = deps;
  return async function handleCheckout(req: Request): Promise<Response> {
    const cors = corsHeaders(req, config.ALLOWED_ORIGINS);
    if (req.method === "OPTIONS") return preflightResponse(req, config.ALLOWED_ORIGINS);
    try {
      if (req.method !== "POST") throw new ApiError("method_not_allowed");
      if (isCancelRequest(req)) {
        return await cancelCheckout(deps, req, scopeOf(await kind.user(req)), cors);
      }
      // Phase 1: validate. Nothing is written for a request rejected here.
      const user = await kind.user(req);
      const checkout = await validateCheckout(req, user, kind.body, config.ALLOWED_ORIGINS);
      // Phase 2: claim the client key and begin, in one RPC; phases 3-5 run under its lease.
      return await withRequestIdempotency(
        requestIdempotencyDeps(deps.rpc, config),
        { scope: checkout.scope, key: checkout.clientKey, fingerprint: checkout.fingerprint },
        async (lease, begun) => {
          // begun is null only for a user with no Stripe Customer yet: create it under the
          // lease, outside any transaction, then begin with it.
          if (!begun) {
            const customer = await kind.customer(lease, checkout.user);
            if (customer instanceof ApiError) return { outcome: "refused", error: customer };
            begun = await beginCheckout(checkout, customer, lease, deps);
          }
          return await checkoutUnderLease(begun, lease, deps);
        },
        cors,
        claimAndBegin(checkout, deps),
      );
    } catch (error) {
      return errorResponse(error, cors);
    }
  };
}

async function checkoutUnderLease(
  begun: Begun,
  lease: RequestLease,
  deps: GuestCheckoutDeps,
): Promise<WorkOutcome> {
  const refuse = (error: ApiError): WorkOutcome => ({ outcome: "refused", error });
  switch (begun.outcome) {
    case "ready":
      return await createSession(begun.order_snapshot, begun, lease, deps);
    case "recorded":
    case "closed": {
      // The order already has its session (an earlier holder of this key recorded it,
      // or the key expired and came back): answer with it, stored for replay.
      const body = responseFromOrder(begun.order_snapshot);
      return body instanceof ApiError ? refuse(body) : { outcome: "answer", status: 200, body };
    }
    case "lease_lost":
    case "in_progress":
      return refuse(keyInUse(begun.retry_after_seconds));
    case "mismatch":
      return refuse(new ApiError("idempotency_key_reused"));
    case "failed":
      return refuse(stripeRejected(begun.details?.code));
    case "product_unavailable":
      return refuse(
        new ApiError("product_unavailable", { details: { product_ids: begun.details } }),
      );
    case "currency_mismatch":
    case "insufficient_stock":
      return refuse(new ApiError(begun.outcome, { details: { items: begun.details } }));
    case "amount_too_large":
      return refuse(new ApiError("amount_too_large", { details: begun.details }));
    case "too_many_pending_checkouts":
      return refuse(
        new ApiError("too_many_pending_checkouts", {
          details: begun.details,
          retryAfter: begun.retry_after_seconds,
        }),
      );
    default:
      return unexpected(begun);
  }
}

/** Phases 4 and 5: Stripe with the stored key, outside any transaction, then record. */
async function createSession(
  order: OrderSnapshotT,
  claim: { stripe_idempotency_key: string; stripe_lease_token: string },
  lease: RequestLease,
  deps: GuestCheckoutDeps,
): Promise<WorkOutcome> {
  const { rpc, config } = deps;
  const orderOp = { ...leaseArgs(lease, claim), p_order_id: order.id };
  // The parameters come only from the stored order, so every retry sends the same ones.
  let expiresAt = order.checkout_expires_at;
  const run = await runStripeOperation<Stripe.Checkout.Session, "order_closed">({
    key: claim.stripe_idempotency_key,
    call: async (options) =>
      await lookUp(() => sessionUnderEarlierKey(deps.stripe, order)) ??
        await deps.stripe.checkout.sessions.create(
          sessionParams(order, claim.stripe_idempotency_key, expiresAt),
          options,
        ),
    // Stripe wants expires_at at least 30 minutes ahead when the call is made. A resumed
    // call whose first attempt never ran can fall short; such a rejection saves nothing
    // under the key, so the same key is safe with a fresh expiry, stored first so that
    // any later retry under this key sends these same parameters again.
    renew: async (failure) => {
      if (failure.param !== "expires_at") return "give_up";
      expiresAt = Math.floor(deps.now().getTime() / 1000) + sessionExpiresInSeconds(config);
      const refreshed = await call(rpc, "refresh_checkout_expiry", {
        ...orderOp,
        p_expires_at: isoSeconds(expiresAt),
        p_lease_seconds: config.IDEMPOTENCY_LEASE_SECONDS,
      });
      return refreshed === "ok" ? "retry" : refreshed;
    },
    record: (session) => {
      const response = responseFromSession(order, session);
      return call(rpc, "record_checkout", {
        ...orderOp,
        p_checkout_session_id: session.id,
        p_checkout_url: response.checkout_url,
        p_amount_total: response.amount_total,
        p_expires_at: response.expires_at,
        p_response_status: 201,
        p_response_body: asJson(response),
      });
    },
    release: (failure) => call(rpc, "release_checkout", { ...orderOp, ...releaseArgs(failure) }),
    fail: (failure) => call(rpc, "fail_checkout", { ...orderOp, ...failArgs(failure) }),
  });
  switch (run.outcome) {
    case "recorded":
      // record_checkout stored the answer in the same transaction as the session.
      return { outcome: "stored", status: 201, body: responseFromSession(order, run.value) };
    case "order_closed":
      // The order expired or was cancelled while Stripe was called: the session Stripe
      // made must not stay payable. Whatever the expiry's outcome, the order is closed;
      // an expiry left open is retried by the next call of the same operation.
      if (run.value) await expireClosedOrderSession(deps, order.id, run.value.id);
      return {
        outcome: "refused",
        error: new ApiError("checkout_closed", { details: { order_id: order.id } }),
      };
    default:
      return unrecordedOutcome(run);
  }
}

/** How far past the operation's first claim and last re-key the look-up reads: clocks differ. */
const EARLIER_SESSION_MARGIN_SECONDS = 300;
/** Sessions looked at, at most, by one look-up (a busy shop makes many a minute). */
const EARLIER_SESSION_SCAN_LIMIT = 1_000;

/**
 * After a re-key (Stripe saved a 5xx under an earlier key of this operation, and may have
 * made the session all the same), the open session made under one of the earlier keys, to
 * be recorded instead of making a second one. Stripe has no search for sessions, so this
 * pages through the open sessions created between the operation's first claim and its last
 * re-key (Stripe made that session before it saved the 500 we were replayed, so before the
 * re-key; README, "The key lifecycle"), newest first, matching `metadata.checkout_key`:
 * sessions made after that, however many, are never read. A session it misses was never
 * shown to anyone, and a payment on it is flagged, not taken (README, "Which session pays
 * an order").
 */
async function sessionUnderEarlierKey(
  stripe: Pick<Stripe, "checkout">,
  order: OrderSnapshotT,
): Promise<Stripe.Checkout.Session | undefined> {
  const earlierKeys = new Set(order.superseded_checkout_keys);
  if (earlierKeys.size === 0 || order.checkout_started_at === null) return undefined;
  const created = {
    gte: order.checkout_started_at - EARLIER_SESSION_MARGIN_SECONDS,
    ...(order.checkout_superseded_at === null
      ? {}
      : { lte: order.checkout_superseded_at + EARLIER_SESSION_MARGIN_SECONDS }),
  };
  let seen = 0;
  for await (
    const session of stripe.checkout.sessions.list({ created, status: "open", limit: 100 })
  ) {
    const metadata = session.metadata ?? {};
    if (
      session.status === "open" && metadata.order_id === order.id &&
      earlierKeys.has(metadata.checkout_key ?? "")
    ) return session;
    if (++seen >= EARLIER_SESSION_SCAN_LIMIT) return undefined;
  }
  return undefined;
}
