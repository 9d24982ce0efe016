/**
 * refund-order (README: "Refunds and disputes"), top-down: validate (secret key,
 * Idempotency-Key, body) → claim the client key → begin (order locked, amount checked
 * against what is refundable and reserved, Stripe operation claimed) → Stripe
 * refunds.create with the stored key → record (refund, order, stored answer). Each
 * database step is one RPC; Stripe is never called inside a transaction.
 */
import type { Stripe } from "./stripe.ts";
import { requireSecretKey, type SecretKeyCheck } from "./auth.ts";
import { asJson, call, type Rpc, unexpected } from "./db.ts";
import { ApiError, errorResponse, keyInUse, stripeRejected } from "./errors.ts";
import { readJsonBody } from "./http.ts";
import { requestFingerprint } from "./fingerprint.ts";
import { requireClientKey, validateBody } from "./checkout_request.ts";
import {
  lookUp,
  runStripeOperation,
  STRIPE_KEY_TRUSTED_SECONDS,
  unrecordedOutcome,
} from "./checkout-utils.ts";
import { failArgs, leaseArgs, releaseArgs } from "./claimed_operation_args.ts";
import {
  requestIdempotencyDeps,
  type RequestLease,
  withRequestIdempotency,
  type WorkOutcome,
} from "./request_idempotency.ts";
import {
  RefundOrderBody,
  type RefundOrderBodyT,
  type RefundPlanT,
  type RefundResponseT,
} from "./refund_request.ts";

export interface RefundDeps {
  rpc: Rpc;
  stripe: Pick<Stripe, "refunds">;
  isSecretKey: SecretKeyCheck;
  config: { IDEMPOTENCY_LEASE_SECONDS: number; IDEMPOTENCY_KEY_TTL_HOURS: number };
}

/** Refund keys live apart from checkout keys: the same string never means both. */
export const REFUND_SCOPE = "refund";

interface RefundRequest {
  clientKey: string;
  fingerprint: string;
  body: RefundOrderBodyT;
}

export function createRefundHandler(deps: RefundDeps): (req: Request) => Promise<Response> {
  const { config } = deps;
  return async function handleRefund(req: Request): Promise<Response> {
    // Server to server: no browser calls this, so no CORS.
    const headers = new Headers();
    try {
      if (req.method !== "POST") throw new ApiError("method_not_allowed");
      // Phase 1: validate. Nothing is written for a request rejected here.
      const request = await validate(req, deps);
      // Phase 2: claim the client key; phases 3-5 run under its lease.
      return await withRequestIdempotency(
        requestIdempotencyDeps(deps.rpc, config),
        { scope: REFUND_SCOPE, key: request.clientKey, fingerprint: request.fingerprint },
        (lease) => refundUnderLease(request, lease, deps),
        headers,
      );
    } catch (error) {
      return errorResponse(error, headers);
    }
  };
}

async function validate(req: Request, deps: RefundDeps): Promise<RefundRequest> {
  await requireSecretKey(deps.isSecretKey, req);
  const clientKey = requireClientKey(req.headers);
  const body = validateBody(RefundOrderBody, await readJsonBody(req));
  return { clientKey, fingerprint: requestFingerprint(REFUND_SCOPE, body), body };
}

async function refundUnderLease(
  request: RefundRequest,
  lease: RequestLease,
  deps: RefundDeps,
): Promise<WorkOutcome> {
  // Phase 3: begin — the order locked, the amount checked against what is refundable
  // and reserved, the Stripe operation claimed, in one transaction.
  const begun = await call(deps.rpc, "begin_refund", {
    p_scope: lease.scope,
    p_idempotency_key: lease.key,
    p_request_lease_token: lease.token,
    p_request_fingerprint: request.fingerprint,
    p_order_id: request.body.order_id,
    p_amount: request.body.amount,
    p_reason: request.body.reason,
    p_lease_seconds: deps.config.IDEMPOTENCY_LEASE_SECONDS,
  });
  const refuse = (error: ApiError): WorkOutcome => ({ outcome: "refused", error });
  switch (begun.outcome) {
    case "ready":
      return await createRefund(begun.refund, begun, lease, deps);
    case "recorded":
      // Stripe's refund is already known (an earlier holder of this key recorded it,
      // or its webhook did): answer with it, stored for replay.
      return { outcome: "answer", status: 200, body: begun.refund };
    case "failed":
      return refuse(stripeRejected(begun.details?.code));
    case "lease_lost":
    case "in_progress":
      return refuse(keyInUse(begun.retry_after_seconds));
    case "mismatch":
      return refuse(new ApiError("idempotency_key_reused"));
    case "order_not_found":
    case "order_not_refundable":
    case "refund_exceeds_payment":
      return refuse(new ApiError(begun.outcome, { details: begun.details }));
    default:
      return unexpected(begun);
  }
}

/** Phases 4 and 5: Stripe with the stored key and parameters, then record. */
async function createRefund(
  plan: RefundPlanT,
  claim: { stripe_idempotency_key: string; stripe_lease_token: string },
  lease: RequestLease,
  deps: RefundDeps,
): Promise<WorkOutcome> {
  const { rpc } = deps;
  const refundOp = { ...leaseArgs(lease, claim), p_refund_id: plan.id };
  let response: RefundResponseT | undefined;
  const run = await runStripeOperation({
    key: claim.stripe_idempotency_key,
    call: async (options) => {
      // A request resumed after Stripe may have forgotten its key, or under a new key
      // after Stripe saved a 500 for the old one (which may have made the refund): its
      // refund, if Stripe made it, is found by the request id it carries, not made again.
      if (plan.rekeyed || plan.age_seconds > STRIPE_KEY_TRUSTED_SECONDS) {
        const found = await lookUp(() => findRequestRefund(deps.stripe, plan));
        if (found) return found;
      }
      return await deps.stripe.refunds.create(refundParams(plan), options);
    },
    record: async (refund) => {
      const recorded = await call(rpc, "record_refund", {
        ...refundOp,
        p_stripe_refund: asJson(refundFacts(refund)),
        p_response_status: 201,
      });
      if (recorded.outcome === "ok") response = recorded.response;
      return recorded.outcome;
    },
    release: (failure) => call(rpc, "release_refund", { ...refundOp, ...releaseArgs(failure) }),
    fail: (failure) => call(rpc, "fail_refund", { ...refundOp, ...failArgs(failure) }),
  });
  if (run.outcome !== "recorded") return unrecordedOutcome(run);
  // record_refund stored the answer in the same transaction as the refund.
  if (!response) throw new Error("record_refund answered ok without a response");
  return { outcome: "stored", status: 201, body: response };
}

function refundParams(plan: RefundPlanT): Stripe.RefundCreateParams {
  return {
    payment_intent: plan.payment_intent_id,
    amount: plan.amount,
    ...(plan.reason ? { reason: plan.reason } : {}),
    // How the refund's webhooks find the order and this request's row.
    metadata: { order_id: plan.order_id, refund_request_id: plan.id },
  };
}

/** The refund Stripe made for this request (refundParams' metadata), if it made one. */
async function findRequestRefund(
  stripe: RefundDeps["stripe"],
  plan: RefundPlanT,
): Promise<Stripe.Refund | undefined> {
  const refunds = stripe.refunds.list({ payment_intent: plan.payment_intent_id, limit: 100 });
  for await (const refund of refunds) {
    if (refund.metadata?.refund_request_id === plan.id) return refund;
  }
  return undefined;
}

/** The fields of Stripe's refund that the database reconciles, as its webhooks carry them. */
function refundFacts(refund: Stripe.Refund): Record<string, unknown> {
  return {
    id: refund.id,
    object: "refund",
    amount: refund.amount,
    currency: refund.currency,
    status: refund.status,
    reason: refund.reason,
    failure_reason: refund.failure_reason ?? null,
    payment_intent: refund.payment_intent,
    metadata: refund.metadata,
  };
}
