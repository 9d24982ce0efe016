/**
 * The Stripe event types stripe-webhook applies (README "The Stripe webhook"): the
 * endpoint subscribes to these, and stripe-reconcile asks GET /v1/events for exactly these.
 */
export const HANDLED_EVENT_TYPES = [
  "checkout.session.completed",
  "checkout.session.async_payment_succeeded",
  "checkout.session.async_payment_failed",
  "checkout.session.expired",
  "charge.refunded",
  "refund.created",
  "refund.updated",
  "refund.failed",
  "charge.refund.updated",
  "charge.dispute.created",
  "charge.dispute.closed",
] as const;
