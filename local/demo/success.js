// @ts-check
/**
 * The success page: Stripe's redirect is no proof of payment, so it asks the database (the
 * anon `order_status_by_session` RPC) until the webhook has settled the order, then retires
 * the idempotency key of a paid order.
 */
import { onOrderClosed, onPaymentSucceeded } from "../../client/mod.js";
import { byId, clearCart, loadConfig, rpc } from "./shop_api.js";

/** A delayed payment method may take a while; the page stops asking after this. */
const POLL_FOR_MS = 120_000;
const POLL_EVERY_MS = 500;
const FINAL = new Set(["paid", "payment_failed", "expired", "refunded"]);

const config = await loadConfig();
const sessionId = new URLSearchParams(location.search).get("session_id") ?? "";
byId("session-id").textContent = sessionId || "(none)";
const statusLabel = byId("order-status");
const note = byId("status");

/** @param {string} status */
function show(status) {
  statusLabel.textContent = status;
  statusLabel.dataset.status = status;
}

const deadline = Date.now() + POLL_FOR_MS;
/** @type {string | null} */
let status = null;
while (Date.now() < deadline) {
  const answer = await rpc(config, "order_status_by_session", { p_session_id: sessionId })
    .catch(() => null);
  status = typeof answer === "string" ? answer : null;
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
