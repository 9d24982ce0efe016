/**
 * The checkout request (SPEC §4), shared by guest-checkout and enhanced-checkout.
 * Phases, top-down: validate → claim the client key → begin (order, prices, stock,
 * Stripe operation) → Stripe → record. Each database step is one RPC; Stripe is
 * never called inside a transaction; every answer comes from a closed set.
 */
import type { Stripe } from "./stripe.ts";
import type { Config } from "./config.ts";
import type { UserVerifier, VerifiedUser } from "./auth.ts";
import { asJson, type Db, rpc } from "./db.ts";
import {
  ApiError,
  errorBody,
  type ErrorCode,
  errorResponse,
  isStoredResponse,
  jsonResponse,
  statusOf,
} from "./errors.ts";
import { corsHeaders, preflightResponse, readJsonBody } from "./http.ts";
import { parseClientKey } from "./client_key.ts";
import { requestFingerprint } from "./fingerprint.ts";
import {
  assertAllowedRedirects,
  EnhancedCheckoutBody,
  GuestCheckoutBody,
  validateBody,
} from "./checkout_request.ts";
import {
  callStripe,
  failureJson,
  getOrCreateCustomer,
  type RequestLease,
  type StripeFailure,
} from "./checkout-utils.ts";
import { OrderSnapshot, type OrderSnapshotT } from "./order_snapshot.ts";

export interface CheckoutDeps {
  db: Db;
  stripe: Stripe;
  config: Config;
  /** Required for enhanced-checkout. */
  verifyUser?: UserVerifier;
  now?: () => Date;
}

export type CheckoutKind = "guest" | "enhanced";

/** What the client gets back for a created (or already existing) checkout. */
export interface CheckoutResponse {
  order_id: string;
  status: string;
  checkout_session_id: string;
  checkout_url: string;
  amount_total: number;
  currency: string;
  expires_at: string;
}

/** Who is checking out and with what, once the request has been validated. */
interface Checkout {
  scope: string;
  clientKey: string;
  fingerprint: string;
  user: VerifiedUser | undefined;
  email: string | undefined;
  items: { product_id: string; quantity: number }[];
  success_url: string;
  cancel_url: string;
  promotion_code: string | undefined;
}

/** A held request lease: only its holder may complete or release the client key. */
type Lease = RequestLease;

export function createCheckoutHandler(kind: CheckoutKind, deps: CheckoutDeps) {
  const { config } = deps;
  if (kind === "enhanced" && !deps.verifyUser) {
    throw new Error("enhanced-checkout needs a user verifier");
  }

  return async function handleCheckout(req: Request): Promise<Response> {
    const cors = corsHeaders(req, config.ALLOWED_ORIGINS);
    if (req.method === "OPTIONS") return preflightResponse(req, config.ALLOWED_ORIGINS);
    try {
      if (req.method !== "POST") throw new ApiError("method_not_allowed");

      // Phase 1: validate. Nothing is written for a request rejected here.
      const checkout = await validate(kind, req, deps);

      // Phase 2: claim the client key (one round trip).
      const claim = await rpc(deps.db, "claim_idempotency_key", {
        p_scope: checkout.scope,
        p_key: checkout.clientKey,
        p_request_fingerprint: checkout.fingerprint,
        p_lease_seconds: config.IDEMPOTENCY_LEASE_SECONDS,
        p_ttl_seconds: config.IDEMPOTENCY_KEY_TTL_HOURS * 3600,
      });
      switch (claim.outcome) {
        case "replay":
          return replay(claim.response_status, claim.response_body, cors);
        case "in_progress":
          throw new ApiError("idempotency_key_in_use", undefined, claim.retry_after_seconds ?? 1);
        case "mismatch":
          throw new ApiError("idempotency_key_reused");
        case "new":
        case "takeover":
          break;
        default:
          throw new Error(`claim_idempotency_key answered ${JSON.stringify(claim)}`);
      }
      if (!claim.lease_token) throw new Error("claim_idempotency_key gave no lease token");
      const lease = { scope: checkout.scope, key: checkout.clientKey, token: claim.lease_token };

      // Phases 3-5 run under the lease; whatever happens, the lease ends in a stored
      // answer or a release, never left dangling until it expires.
      try {
        const { status, body } = await checkoutUnderLease(checkout, lease, deps);
        return jsonResponse(status, body, cors);
      } catch (error) {
        return await settleFailure(error, lease, deps.db, cors);
      }
    } catch (error) {
      return errorResponse(error, cors);
    }
  };
}

async function validate(kind: CheckoutKind, req: Request, deps: CheckoutDeps): Promise<Checkout> {
  let user: VerifiedUser | undefined;
  if (kind === "enhanced") {
    user = await deps.verifyUser?.(req.headers.get("authorization"));
    if (!user) throw new ApiError("unauthorized");
  }
  const key = parseClientKey(req.headers);
  if (!key.ok) {
    throw new ApiError(
      key.problem === "missing" ? "idempotency_key_missing" : "idempotency_key_invalid",
      { reason: key.reason },
    );
  }
  const raw = await readJsonBody(req);
  const body = kind === "guest"
    ? validateBody(GuestCheckoutBody, raw)
    : validateBody(EnhancedCheckoutBody, raw);
  assertAllowedRedirects(body, deps.config.ALLOWED_ORIGINS);
  const scope = user ? `user:${user.id}` : "guest";
  return {
    scope,
    clientKey: key.key,
    fingerprint: await requestFingerprint(scope, body),
    user,
    email: "email" in body ? body.email : user?.email,
    items: body.items,
    success_url: body.success_url,
    cancel_url: body.cancel_url,
    promotion_code: "promotion_code" in body ? body.promotion_code : undefined,
  };
}

async function checkoutUnderLease(
  checkout: Checkout,
  lease: Lease,
  deps: CheckoutDeps,
): Promise<{ status: number; body: CheckoutResponse }> {
  const { db, config } = deps;
  const customer = checkout.user
    ? await getOrCreateCustomer(
      { db, stripe: deps.stripe, leaseSeconds: config.IDEMPOTENCY_LEASE_SECONDS },
      lease,
      checkout.user,
    )
    : undefined;

  // Phase 3: begin — the order (once per client key), its prices, the stock
  // reservation and the Stripe operation's claim, in one transaction.
  const begun = await rpc(db, "begin_checkout", {
    p_scope: lease.scope,
    p_idempotency_key: lease.key,
    p_request_lease_token: lease.token,
    p_request_fingerprint: checkout.fingerprint,
    p_items: asJson(checkout.items),
    p_success_url: checkout.success_url,
    p_cancel_url: checkout.cancel_url,
    p_email: checkout.email,
    p_user_id: checkout.user?.id,
    p_stripe_customer_id: customer,
    p_promotion_code: checkout.promotion_code,
    p_session_ttl_seconds: config.CHECKOUT_SESSION_TTL_MINUTES * 60,
    p_lease_seconds: config.IDEMPOTENCY_LEASE_SECONDS,
  });
  switch (begun.outcome) {
    case "ready":
      break;
    case "recorded":
    case "closed": {
      // The order already has its session (an earlier holder of this key recorded it,
      // or the key expired and came back): answer with it and store that answer.
      const body = responseFromOrder(OrderSnapshot.parse(begun.order_snapshot));
      await rpc(db, "complete_idempotency_key", {
        p_scope: lease.scope,
        p_key: lease.key,
        p_lease_token: lease.token,
        p_response_status: 200,
        p_response_body: asJson(body),
      });
      return { status: 200, body };
    }
    case "lease_lost":
    case "in_progress":
      throw new ApiError("idempotency_key_in_use", undefined, begun.retry_after_seconds ?? 1);
    case "mismatch":
      throw new ApiError("idempotency_key_reused");
    case "failed":
      throw new ApiError("stripe_rejected", stripeRejectionDetails(begun.details));
    case "product_unavailable":
      throw new ApiError("product_unavailable", { product_ids: begun.details });
    case "currency_mismatch":
      throw new ApiError("currency_mismatch", { items: begun.details });
    case "insufficient_stock":
      throw new ApiError("insufficient_stock", { items: begun.details });
    case "amount_too_large":
      throw new ApiError("amount_too_large", begun.details);
    default:
      throw new Error(`begin_checkout answered ${JSON.stringify(begun.outcome)}`);
  }
  const order = OrderSnapshot.parse(begun.order_snapshot);
  const stripeKey = begun.stripe_idempotency_key;
  const stripeLease = begun.stripe_lease_token;
  if (!stripeKey || !stripeLease) throw new Error("begin_checkout gave no Stripe key or lease");

  // Phase 4: Stripe, with the stored key, outside any transaction.
  const orderOp = {
    p_scope: lease.scope,
    p_idempotency_key: lease.key,
    p_request_lease_token: lease.token,
    p_order_id: order.id,
    p_stripe_lease_token: stripeLease,
  };
  const now = deps.now ?? (() => new Date());
  const result = await createSession(deps.stripe, stripeKey, order, async () => {
    const expiresAt = Math.floor(now().getTime() / 1000) +
      config.CHECKOUT_SESSION_TTL_MINUTES * 60;
    const stored = await rpc(db, "refresh_checkout_expiry", {
      ...orderOp,
      p_expires_at: isoSeconds(expiresAt),
      p_lease_seconds: config.IDEMPOTENCY_LEASE_SECONDS,
    });
    if (!stored) throw new ApiError("idempotency_key_in_use", undefined, 1);
    return expiresAt;
  });
  if (!result.ok) {
    const { failure } = result;
    if (failure.kind === "retryable") {
      await rpc(db, "release_checkout", {
        ...orderOp,
        p_error: failureJson(failure),
        p_rekey: failure.rekey,
      });
      throw new ApiError("stripe_unavailable", undefined, 1);
    }
    const details = stripeRejectionDetails(failureJson(failure));
    const failed = await rpc(db, "fail_checkout", {
      ...orderOp,
      p_error: failureJson(failure),
      p_response_status: statusOf("stripe_rejected"),
      p_response_body: asJson(errorBody("stripe_rejected", details)),
    });
    // Not ours to fail any more: whoever took the operation over answers for it.
    if (!failed) throw new ApiError("idempotency_key_in_use", undefined, 1);
    throw new ApiError("stripe_rejected", details, undefined, true);
  }

  // Phase 5: record the session and store the response, in one transaction.
  const session = result.value;
  const body = responseFromSession(order, session);
  const recorded = await rpc(db, "record_checkout", {
    ...orderOp,
    p_checkout_session_id: session.id,
    p_checkout_url: body.checkout_url,
    p_amount_total: body.amount_total,
    p_expires_at: body.expires_at,
    p_response_status: 201,
    p_response_body: asJson(body),
  });
  if (!recorded) throw new ApiError("idempotency_key_in_use", undefined, 1);
  return { status: 201, body };
}

/**
 * checkout.sessions.create with the stored key. The parameters come only from the
 * stored order, so every retry under the key sends the same ones.
 */
async function createSession(
  stripe: Stripe,
  key: string,
  order: OrderSnapshotT,
  refreshExpiry: () => Promise<number>,
) {
  const first = await callStripe(
    key,
    (o) => stripe.checkout.sessions.create(sessionParams(order, order.checkout_expires_at), o),
  );
  // Stripe wants expires_at at least 30 minutes ahead when the call is made. A resumed
  // call whose first attempt never ran can fall short; such a rejection saves nothing
  // under the key, so the same key is safe with a fresh expiry, stored first so that
  // any later retry under this key sends these same parameters again.
  if (!first.ok && first.failure.kind === "terminal" && first.failure.param === "expires_at") {
    const params = sessionParams(order, await refreshExpiry());
    return await callStripe(key, (o) => stripe.checkout.sessions.create(params, o));
  }
  return first;
}

function sessionParams(
  order: OrderSnapshotT,
  expiresAt: number,
): Stripe.Checkout.SessionCreateParams {
  return {
    mode: "payment",
    line_items: order.items.map((item) => ({
      quantity: item.quantity,
      price_data: {
        currency: order.currency,
        unit_amount: item.unit_amount,
        product_data: { name: item.name },
      },
    })),
    success_url: order.success_url,
    cancel_url: order.cancel_url,
    client_reference_id: order.id,
    metadata: { order_id: order.id },
    payment_intent_data: { metadata: { order_id: order.id } },
    expires_at: expiresAt,
    ...(order.stripe_customer_id
      ? { customer: order.stripe_customer_id }
      : order.email
      ? { customer_email: order.email }
      : {}),
    ...(order.promotion_code ? { discounts: [{ promotion_code: order.promotion_code }] } : {}),
  };
}

function responseFromSession(
  order: OrderSnapshotT,
  session: Stripe.Checkout.Session,
): CheckoutResponse {
  if (!session.url) throw new Error(`Stripe session ${session.id} has no url`);
  return {
    order_id: order.id,
    status: order.status,
    checkout_session_id: session.id,
    checkout_url: session.url,
    amount_total: session.amount_total ?? order.amount_total,
    currency: session.currency ?? order.currency,
    expires_at: isoSeconds(session.expires_at),
  };
}

function responseFromOrder(order: OrderSnapshotT): CheckoutResponse {
  if (!order.checkout_session_id || !order.checkout_url) {
    // Ended (expired, failed) before this key ever got its session back.
    throw new ApiError("checkout_closed", { order_id: order.id, order_status: order.status });
  }
  return {
    order_id: order.id,
    status: order.status,
    checkout_session_id: order.checkout_session_id,
    checkout_url: order.checkout_url,
    amount_total: order.amount_total,
    currency: order.currency,
    expires_at: isoSeconds(order.checkout_expires_at),
  };
}

function stripeRejectionDetails(error: unknown): { stripe_code: string | null } {
  const code = (error as Partial<StripeFailure> | null)?.code;
  return { stripe_code: typeof code === "string" ? code : null };
}

/** `2026-01-01T00:30:00Z`: the API's timestamp form. */
function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

function replay(status: number | null, body: unknown, cors: Headers): Response {
  if (status === null || body === null) throw new Error("replay without a stored response");
  const headers = new Headers(cors);
  headers.set("idempotent-replayed", "true");
  // The first answer was 201 Created; its replay creates nothing (SPEC §4).
  return jsonResponse(status === 201 ? 200 : status, body, headers);
}

/**
 * How a failure under the lease ends (SPEC §3): a deterministic answer is stored
 * for replay; a 5xx or an in-use answer releases the key so the retry runs again
 * (fenced: a caller whose lease was taken over releases nothing). An error already
 * settled in the database (`settled`) is only answered.
 */
async function settleFailure(
  error: unknown,
  lease: Lease,
  db: Db,
  cors: Headers,
): Promise<Response> {
  const code: ErrorCode = error instanceof ApiError ? error.code : "internal_error";
  const settled = error instanceof ApiError && error.settled;
  try {
    if (!settled) {
      if (isStoredResponse(statusOf(code), code)) {
        const details = error instanceof ApiError ? error.details : undefined;
        await rpc(db, "complete_idempotency_key", {
          p_scope: lease.scope,
          p_key: lease.key,
          p_lease_token: lease.token,
          p_response_status: statusOf(code),
          p_response_body: asJson(errorBody(code, details)),
        });
      } else {
        await rpc(db, "release_idempotency_key", {
          p_scope: lease.scope,
          p_key: lease.key,
          p_lease_token: lease.token,
        });
      }
    }
  } catch (settleError) {
    // The lease expires on its own; the client's retry then takes over.
    console.error("could not settle the idempotency key", settleError);
  }
  return errorResponse(error, cors);
}
