// @ts-check
/**
 * The success page: Stripe's redirect is no proof of payment, so it asks checkout-status,
 * which confirms with Stripe (through the webhook's own transition) whichever of the two
 * comes first, until the order is settled; then it retires the idempotency key of a paid
 * order.
 */
import { onOrderClosed, onPaymentSucceeded } from "../../client/mod.js";
import { byId, clearCart } from "./shop_api.js";

/** A delayed payment method may take a while; the page stops asking after this. */
const POLL_FOR_MS = 120_000;
const POLL_EVERY_MS = 500;
const FINAL = new Set(["paid", "payment_failed", "expired", "refunded"]);

const sessionId = new URLSearchParams(location.search).get("session_id") ?? "";
byId("session-id").textContent = sessionId || "(none)";
const statusLabel = byId("order-status");
const note = byId("status");

/**
 * The order's status, or null while there is none (unknown session, network trouble).
 * @param {string} id
 * @returns {Promise<string | null>}
 */
async function fetchStatus(id) {
  try {
    const response = await fetch(
      `/functions/v1/checkout-status?session_id=${encodeURIComponent(id)}`,
    );
    if (!response.ok) return null;
    const body = await response.json();
    return typeof body.status === "string" ? body.status : null;
  } catch {
    return null;
  }
}

/** @param {string} status */
function show(status) {
  statusLabel.textContent = status;
  statusLabel.dataset.status = status;
}

const deadline = Date.now() + POLL_FOR_MS;
/** @type {string | null} */
let status = null;
while (Date.now() < deadline) {
  status = await fetchStatus(sessionId);
  if (status) show(status);
  if (status && FINAL.has(status)) break;
  await new Promise((resolve) => setTimeout(resolve, POLL_EVERY_MS));
}

if (status === "paid") {
  onPaymentSucceeded();
  clearCart();
  note.textContent = "Paid. The cart is empty and a fresh idempotency key awaits the next order.";
} else if (status === "payment_failed" || status === "expired") {
  // The session can never be paid now; the same cart must become a new order.
  onOrderClosed();
  note.textContent = "Not paid. Your cart is kept; checking out again starts a new order.";
} else if (status === "refunded") {
  note.textContent = "Paid and refunded since.";
} else {
  note.textContent = status === null
    ? "No order for this session (yet)."
    : "Still waiting for the payment to settle; reload later.";
}
document.body.dataset.settled = status ?? "unknown";
