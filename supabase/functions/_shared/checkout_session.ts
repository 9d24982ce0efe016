/**
 * The Stripe Checkout Session of an order, as pure functions of the stored order: the
 * parameters sent under the stored key (so every retry sends the same ones) and the
 * response the client gets back.
 */
import type { Stripe } from "./stripe.ts";
import { ApiError } from "./errors.ts";
import type { OrderSnapshotT } from "./order_snapshot.ts";

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

export function sessionParams(
  order: OrderSnapshotT,
  key: string,
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
    // checkout_key: how the webhook recognises this order's own session when a crash
    // kept it from being recorded (README, "Which session pays an order").
    metadata: { order_id: order.id, checkout_key: key },
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

export function responseFromSession(
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

/** The recorded session of an order, or checkout_closed when it never got one. */
export function responseFromOrder(order: OrderSnapshotT): CheckoutResponse | ApiError {
  if (!order.checkout_session_id || !order.checkout_url) {
    // Ended (expired, failed) before this key ever got its session back.
    return new ApiError("checkout_closed", {
      details: { order_id: order.id, order_status: order.status },
    });
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

/** `2026-01-01T00:30:00Z`: the API's timestamp form. */
export function isoSeconds(unixSeconds: number): string {
  return new Date(unixSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}
