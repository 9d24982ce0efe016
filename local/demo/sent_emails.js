// @ts-check
/**
 * The shop's "sent e-mails": the outbox messages outbox-dispatch delivered to the local
 * stack's receiver (`/_sink/outbox`, which verified each signature), newest first. On a
 * real project your receiver sends these e-mails and starts the fulfilment.
 */

/** What each message type would tell the customer. */
const SUBJECTS = /** @type {Record<string, string>} */ ({
  "order.paid": "Thank you: your order is paid",
  "order.expired": "Your checkout expired; the items went back on the shelf",
  "order.payment_failed": "Your payment did not go through",
  "order.refunded": "Your refund is on its way",
  "order.partially_refunded": "Part of your order was refunded",
  "order.needs_review": "(to the shop) An order needs a human",
});
const POLL_EVERY_MS = 2_000;

/**
 * @typedef {{ id: string, type: string, order_id: string | null, received_at: string,
 *   deliveries: number, data: Record<string, unknown> }} SunkMessage
 */

const list = /** @type {HTMLElement} */ (document.getElementById("sent-emails"));

/** @param {string} tag @param {string} text @param {string} [className] */
function element(tag, text, className) {
  const node = document.createElement(tag);
  node.textContent = text;
  if (className) node.className = className;
  return node;
}

/** @param {SunkMessage} m */
function email(m) {
  const to = typeof m.data.email === "string" ? m.data.email : "the shop";
  const item = document.createElement("li");
  item.dataset.type = m.type;
  item.append(
    element("strong", SUBJECTS[m.type] ?? m.type),
    " ",
    element(
      "span",
      `to ${to} · ${new Date(m.received_at).toLocaleTimeString()}` +
        (m.deliveries > 1 ? ` · delivered ${m.deliveries}×, shown once` : ""),
      "muted small",
    ),
    document.createElement("br"),
    element("span", `order ${m.order_id ?? "—"} · message ${m.id}`, "small"),
  );
  return item;
}

async function render() {
  /** @type {SunkMessage[]} */
  let messages;
  try {
    const response = await fetch("/_sink/outbox", { cache: "no-store" });
    messages = (await response.json()).messages;
  } catch {
    return;
  }
  list.replaceChildren(
    ...(messages.length > 0
      ? messages.map(email)
      : [element("li", "None yet: pay for an order.", "muted")]),
  );
}

render();
setInterval(render, POLL_EVERY_MS);
