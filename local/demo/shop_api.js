// @ts-check
/**
 * What both demo pages share: the stack's publishable key, PostgREST-style RPC calls, and the cart
 * and demo sign-in kept in the browser. Same origin as the gateway, so no CORS is involved.
 */

/**
 * @typedef {object} DemoConfig
 * @property {string} publishableKey
 * @property {{ id: string, email: string }} demoUser
 */

/**
 * @typedef {object} Product
 * @property {string} id
 * @property {string} name
 * @property {string | null} description
 * @property {number} unit_amount
 * @property {string} currency
 * @property {number | null} stock null = unlimited
 * @property {string | null} image_url
 */

/** @typedef {import("../../client/checkout_request.js").CartItem} CartItem */

/** @typedef {{ access_token: string, user: { id: string, email: string } }} DemoSession */

const CART_KEY = "demo-cart";
// sessionStorage: the demo sign-in ends with the tab, like a session cookie.
const SESSION_KEY = "demo-session";

/** @returns {Promise<DemoConfig>} */
export async function loadConfig() {
  const response = await fetch("/local/demo/config.json");
  if (!response.ok) throw new Error(`config.json answered ${response.status}`);
  return /** @type {DemoConfig} */ (await response.json());
}

/**
 * POST /rest/v1/rpc/<name> as the anon role (the publishable key).
 *
 * @param {DemoConfig} config
 * @param {string} name
 * @param {Record<string, unknown>} args
 * @returns {Promise<unknown>}
 */
export async function rpc(config, name, args = {}) {
  const response = await fetch(`/rest/v1/rpc/${encodeURIComponent(name)}`, {
    method: "POST",
    headers: {
      apikey: config.publishableKey,
      "content-type": "application/json",
    },
    body: JSON.stringify(args),
  });
  const body = await response.json();
  if (!response.ok) throw new Error(`${name}: ${response.status} ${JSON.stringify(body)}`);
  return body;
}

/** @returns {CartItem[]} */
export function readCart() {
  try {
    /** @type {unknown} */
    const value = JSON.parse(localStorage.getItem(CART_KEY) ?? "[]");
    if (!Array.isArray(value)) return [];
    return value.filter((item) =>
      typeof item?.product_id === "string" && Number.isInteger(item?.quantity) && item.quantity > 0
    );
  } catch {
    return [];
  }
}

/** @param {CartItem[]} items */
export function writeCart(items) {
  localStorage.setItem(CART_KEY, JSON.stringify(items));
}

export function clearCart() {
  localStorage.removeItem(CART_KEY);
}

/** @returns {DemoSession | undefined} */
export function readSession() {
  try {
    const value = JSON.parse(sessionStorage.getItem(SESSION_KEY) ?? "null");
    return typeof value?.access_token === "string" ? value : undefined;
  } catch {
    return undefined;
  }
}

/** Dev only: the local stack mints a token for its demo user (no GoTrue here). */
export async function signIn() {
  const response = await fetch("/local/demo/token", { method: "POST" });
  if (!response.ok) throw new Error(`token endpoint answered ${response.status}`);
  /** @type {DemoSession} */
  const session = await response.json();
  sessionStorage.setItem(SESSION_KEY, JSON.stringify(session));
  return session;
}

export function signOut() {
  sessionStorage.removeItem(SESSION_KEY);
}

/**
 * @param {number} amount smallest currency unit
 * @param {string} currency
 */
export function money(amount, currency) {
  return new Intl.NumberFormat("en", { style: "currency", currency: currency.toUpperCase() })
    .format(amount / 100);
}

/**
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`the page has no #${id}`);
  return element;
}
