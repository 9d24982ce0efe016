/**
 * `POST /functions/v1/<checkout function>/cancel` (README: "Cancelling a checkout"): the
 * shopper back on cancel_url releases the reservation early. The order is named by its
 * id and proved by the client key that created it (`Idempotency-Key`, in the checkout's
 * scope). A pending order's session is expired at Stripe first (`checkout:expire`), and
 * only then is the order released, so a payment Stripe took meanwhile keeps its stock; a
 * second cancel answers the same; a paid order is refused.
 */
import { z } from "npm:zod@4.6.7";
import { call, unexpected } from "./db.ts";
import { ApiError, jsonResponse, keyInUse } from "./errors.ts";
import { readJsonBody } from "./http.ts";
import { requireClientKey, validateBody } from "./checkout_request.ts";
import { expireCheckoutSession, type ExpireDeps } from "./checkout_expire.ts";

export const CancelBody = z.strictObject({ order_id: z.guid("order_id must be a UUID") });

/** The cancel route of a checkout function: its path ends in `/cancel`. */
export function isCancelRequest(req: Request): boolean {
  return new URL(req.url).pathname.replace(/\/+$/, "").endsWith("/cancel");
}

/** Cancels under `scope` (`guest` or `user:<uuid>`); the caller answers errors and CORS. */
export async function cancelCheckout(
  deps: ExpireDeps,
  req: Request,
  scope: string,
  headers: Headers,
): Promise<Response> {
  const key = requireClientKey(req.headers);
  const { order_id } = validateBody(CancelBody, await readJsonBody(req));
  const orderId = order_id.toLowerCase();
  const cancel = (expiredSession?: string) =>
    call(deps.rpc, "cancel_checkout", {
      p_scope: scope,
      p_idempotency_key: key,
      p_order_id: orderId,
      p_expired_session_id: expiredSession,
    });
  let cancelled = await cancel();
  if (cancelled.outcome === "expire_first") {
    const session = cancelled.checkout_session_id;
    await expireBeforeRelease(deps, orderId, session);
    cancelled = await cancel(session);
  }
  switch (cancelled.outcome) {
    case "expire_first":
      // Another session cannot appear on an order; a second round would mean a bug.
      throw new Error(`order ${orderId} still has an open session after its expiry`);
    case "not_found":
      throw new ApiError("order_not_found", { details: { order_id: orderId } });
    case "paid":
      throw new ApiError("order_paid", {
        details: { order_id: orderId, order_status: cancelled.order_status },
      });
    case "released":
      break;
    default:
      return unexpected(cancelled);
  }
  if (cancelled.order_status === "expired" && cancelled.checkout_session_id) {
    // An order that ended before this cancel (the cleanup expired it) may still have an
    // open session: expired here too (once; a cancel that released it did it already).
    // An expiry Stripe cannot take now is stripe-reconcile's; a session paid meanwhile
    // is the webhook's to flag (its order is no longer payable).
    const expired = await expireCheckoutSession(deps, orderId, cancelled.checkout_session_id);
    if (expired.outcome !== "expired") {
      console.error(`session ${cancelled.checkout_session_id} not expired`, expired);
    }
  }
  return jsonResponse(200, { order_id: orderId, status: cancelled.order_status }, headers);
}

/**
 * Stripe expires the session, or says it cannot: then it completed, a payment is under way
 * (or done) and the webhook settles the order, which keeps its reservation meanwhile.
 */
async function expireBeforeRelease(
  deps: ExpireDeps,
  orderId: string,
  sessionId: string,
): Promise<void> {
  const expired = await expireCheckoutSession(deps, orderId, sessionId);
  switch (expired.outcome) {
    case "expired":
      return;
    case "refused":
      throw new ApiError("order_paid", {
        details: { order_id: orderId, order_status: "pending" },
      });
    case "unavailable":
    case "rejected":
      throw new ApiError("stripe_unavailable", { retryAfter: 1 });
    case "in_progress":
      throw keyInUse(expired.retry_after_seconds);
    case "mismatch":
      throw new Error(`order ${orderId}: its expiry was claimed for another session`);
    default:
      return unexpected(expired);
  }
}
