// @ts-check
/**
 * The checkout body the client sends, in one canonical form, and its fingerprint (the "cart"
 * a key is tied to). Items are sorted by product id before sending: the server fingerprints
 * the body as sent (arrays keep their order), so a reordered cart is the same checkout only
 * if the client sends it in the same order.
 */

/**
 * @typedef {object} CartItem
 * @property {string} product_id
 * @property {number} quantity
 */

/**
 * @typedef {object} CheckoutRequest
 * @property {CartItem[]} items
 * @property {string} success_url
 * @property {string} cancel_url
 * @property {string} [email] guest checkout only
 * @property {string} [promotion_code] enhanced checkout only
 */

/**
 * @param {CheckoutRequest} request
 * @returns {CheckoutRequest}
 */
export function normalizeCheckoutRequest(request) {
  const items = request.items
    .map((item) => ({ product_id: item.product_id, quantity: item.quantity }))
    .sort((a, b) => (a.product_id < b.product_id ? -1 : a.product_id > b.product_id ? 1 : 0));
  /** @type {CheckoutRequest} */
  const body = { items, success_url: request.success_url, cancel_url: request.cancel_url };
  if (request.email !== undefined) body.email = request.email;
  if (request.promotion_code !== undefined) body.promotion_code = request.promotion_code;
  return body;
}

/**
 * JSON with object keys sorted at every depth, so equal values give equal text.
 *
 * @param {unknown} value
 * @returns {string}
 */
export function canonicalJson(value) {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(",")}]`;
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(",")}}`;
  }
  return JSON.stringify(value);
}

/**
 * SHA-256 (hex) of the function name and the normalized body: everything the server
 * fingerprints, so a key is never sent with a body the server would call a reuse (422). It
 * is a hash so the email in the body does not sit in localStorage in clear.
 *
 * @param {string} functionName
 * @param {CheckoutRequest} request
 * @returns {Promise<string>}
 */
export async function checkoutFingerprint(functionName, request) {
  const text = canonicalJson({ function: functionName, body: normalizeCheckoutRequest(request) });
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
