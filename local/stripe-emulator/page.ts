/**
 * The hosted checkout page at `session.url`. Plain HTML forms post back to the same URL, so a
 * browser can click through it and a test can drive it with `fetch`. The submit buttons share
 * the field name `action`; their values and ids are the stable contract (see README.md).
 */
import type { SessionRecord } from "./state.ts";

export const PAGE_ACTIONS = ["pay", "pay_delayed_succeed", "pay_delayed_fail", "cancel"] as const;
export type PageAction = (typeof PAGE_ACTIONS)[number];

function escape(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function money(amount: number, currency: string): string {
  return `${(amount / 100).toFixed(2)} ${currency.toUpperCase()}`;
}

export function renderCheckoutPage(record: SessionRecord, notice?: string): string {
  const s = record.session;
  const rows = record.lineItems.map((item) =>
    `<tr class="line-item"><td>${escape(item.description)}</td><td>${item.quantity}</td>` +
    `<td>${money(item.price.unit_amount, item.currency)}</td><td>${
      money(item.amount_subtotal, item.currency)
    }</td></tr>`
  ).join("\n");
  const open = s.status === "open";
  const askEmail = open && s.customer_email === null && s.customer === null;
  const form = open
    ? `<form method="post" action="/c/pay/${escape(s.id)}" id="checkout-form">
  ${
      askEmail
        ? `<label>Email <input type="email" name="email" id="email" value="customer@example.com"></label>`
        : ""
    }
  <button type="submit" name="action" value="pay" id="pay">Pay ${
      money(s.amount_total, s.currency)
    }</button>
  <button type="submit" name="action" value="pay_delayed_succeed" id="pay-delayed-succeed">Pay with a delayed method (will succeed)</button>
  <button type="submit" name="action" value="pay_delayed_fail" id="pay-delayed-fail">Pay with a delayed method (will fail)</button>
  <button type="submit" name="action" value="cancel" id="cancel">Cancel</button>
</form>`
    : `<p id="session-closed">This Checkout Session is ${escape(s.status)}.</p>`;
  return `<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Checkout (Stripe emulator)</title></head>
<body data-session-id="${escape(s.id)}" data-status="${escape(s.status)}">
<h1>Checkout</h1>
${notice ? `<p id="notice">${escape(notice)}</p>` : ""}
<table id="line-items">
<thead><tr><th>Item</th><th>Qty</th><th>Unit price</th><th>Amount</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p>Subtotal: <span id="amount-subtotal">${money(s.amount_subtotal, s.currency)}</span></p>
${
    s.total_details.amount_discount > 0
      ? `<p>Discount: <span id="amount-discount">−${
        money(s.total_details.amount_discount, s.currency)
      }</span></p>`
      : ""
  }
<p>Total: <strong id="amount-total">${money(s.amount_total, s.currency)}</strong></p>
${form}
</body>
</html>
`;
}

export function renderNotFoundPage(id: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Not found</title></head>` +
    `<body><p id="not-found">No Checkout Session ${escape(id)}.</p></body></html>\n`;
}

/** Stripe fills `{CHECKOUT_SESSION_ID}` in success_url with the session id. */
export function fillSessionId(url: string, id: string): string {
  return url.replaceAll("{CHECKOUT_SESSION_ID}", id);
}
