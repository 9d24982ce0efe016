// @ts-check
/**
 * The browser's idempotency key for one checkout (seed 000; README: "The key lifecycle").
 *
 * One key per cart: the key is stored in `localStorage` together with the fingerprint of
 * the checkout request it was made for. The same cart keeps its key across reloads, double
 * clicks and retries, so the server answers every repeat with the one order it made; a
 * changed cart gets a new key, because the server refuses a key reused for another body
 * (422 `idempotency_key_reused`). Written as JavaScript with JSDoc types so browsers load it
 * as is and `deno check` type-checks it (`// @ts-check`).
 */

/** @typedef {Pick<Storage, "getItem" | "setItem" | "removeItem">} KeyStorage */

/**
 * @typedef {object} KeyOptions
 * @property {KeyStorage} [storage] default `localStorage`, or memory where there is none
 * @property {() => string} [randomUUID] default `crypto.randomUUID`
 * @property {() => number} [now] epoch milliseconds; default `Date.now`
 * @property {number} [maxAgeMs] a key older than this is replaced; default MAX_KEY_AGE_MS
 */

/**
 * @typedef {object} StoredKey
 * @property {string} key
 * @property {string | null} cart fingerprint of the checkout it belongs to; null = not yet bound
 * @property {number} created_at epoch milliseconds
 * @property {string} [order_id] the order the key made, once a checkout answered (for a cancel)
 * @property {string} [function_name] the checkout function that made it
 */

export const STORAGE_KEY = "checkout-idempotency-key";

/**
 * The server forgets a request key after 24 h (IDEMPOTENCY_KEY_TTL_HOURS) but its order keeps
 * the key; a key is retired an hour before that so a cart left overnight never meets its
 * half-forgotten twin.
 */
export const MAX_KEY_AGE_MS = 23 * 60 * 60 * 1000;

/** Used when the page has no usable localStorage (Safari private mode, Deno, workers). */
const memoryStorage = createMemoryStorage();

/** @returns {KeyStorage & { readonly size: number }} */
export function createMemoryStorage() {
  /** @type {Map<string, string>} */
  const items = new Map();
  return {
    getItem: (name) => items.get(name) ?? null,
    setItem: (name, value) => void items.set(name, String(value)),
    removeItem: (name) => void items.delete(name),
    get size() {
      return items.size;
    },
  };
}

/**
 * @param {KeyOptions} options
 * @returns {KeyStorage}
 */
function storageOf(options) {
  if (options.storage) return options.storage;
  try {
    // Reading localStorage throws where storage is disabled, not just when it is absent.
    const storage = globalThis.localStorage;
    if (storage) return storage;
  } catch {
    // Fall through to memory: the key then lives as long as the page.
  }
  return memoryStorage;
}

/**
 * @param {KeyOptions} options
 * @returns {StoredKey | undefined}
 */
export function readStoredKey(options = {}) {
  const raw = storageOf(options).getItem(STORAGE_KEY);
  if (raw === null) return undefined;
  try {
    /** @type {unknown} */
    const value = JSON.parse(raw);
    if (
      typeof value === "object" && value !== null && "key" in value &&
      typeof value.key === "string" && value.key.length > 0 &&
      "cart" in value && (typeof value.cart === "string" || value.cart === null) &&
      "created_at" in value && typeof value.created_at === "number"
    ) {
      /** @type {StoredKey} */
      const stored = { key: value.key, cart: value.cart, created_at: value.created_at };
      if ("order_id" in value && typeof value.order_id === "string") {
        stored.order_id = value.order_id;
      }
      if ("function_name" in value && typeof value.function_name === "string") {
        stored.function_name = value.function_name;
      }
      return stored;
    }
  } catch {
    // An older format (a bare UUID, seed 000) or garbage: treated as no key.
  }
  return undefined;
}

/**
 * @param {string | null} cart
 * @param {KeyOptions} options
 * @returns {string}
 */
function storeNewKey(cart, options) {
  const key = (options.randomUUID ?? (() => crypto.randomUUID()))();
  const now = (options.now ?? Date.now)();
  /** @type {StoredKey} */
  const stored = { key, cart, created_at: now };
  storageOf(options).setItem(STORAGE_KEY, JSON.stringify(stored));
  return key;
}

/**
 * The key for the checkout with this fingerprint (see `checkoutFingerprint`): the stored one
 * when it belongs to this cart (or is an unbound fresh key, which is then bound to it), else a
 * new one. Synchronous on purpose: with no await between reading and writing the storage, two
 * clicks in one page can never mint two keys for one cart.
 *
 * @param {string} cart
 * @param {KeyOptions} [options]
 * @returns {string}
 */
export function getOrCreateIdempotencyKey(cart, options = {}) {
  const stored = readStoredKey(options);
  const now = (options.now ?? Date.now)();
  const fresh = stored !== undefined &&
    now - stored.created_at < (options.maxAgeMs ?? MAX_KEY_AGE_MS);
  if (stored && fresh && stored.cart === cart) return stored.key;
  if (stored && fresh && stored.cart === null) {
    /** @type {StoredKey} */
    const bound = { key: stored.key, cart, created_at: stored.created_at };
    storageOf(options).setItem(STORAGE_KEY, JSON.stringify(bound));
    return stored.key;
  }
  return storeNewKey(cart, options);
}

/**
 * Notes on the stored key which order it made, so a page landing on cancel_url can cancel it
 * (`cancelCheckout`). Nothing changes unless `key` is still the stored key: a key replaced
 * meanwhile (another tab, a renewal) keeps what it has.
 *
 * @param {string} key
 * @param {string} orderId
 * @param {string} functionName
 * @param {KeyOptions} [options]
 */
export function rememberOrder(key, orderId, functionName, options = {}) {
  const stored = readStoredKey(options);
  if (stored?.key !== key) return;
  /** @type {StoredKey} */
  const withOrder = { ...stored, order_id: orderId, function_name: functionName };
  storageOf(options).setItem(STORAGE_KEY, JSON.stringify(withOrder));
}

/**
 * Forgets the key; the next checkout makes a new one.
 *
 * @param {KeyOptions} [options]
 */
export function clearIdempotencyKey(options = {}) {
  storageOf(options).removeItem(STORAGE_KEY);
}

/**
 * Replaces the key with a new one: bound to `cart` when given (the same cart must start a new
 * order), else unbound, to be taken by whatever the next checkout is.
 *
 * @param {string | null} [cart]
 * @param {KeyOptions} [options]
 * @returns {string}
 */
export function refreshIdempotencyKey(cart = null, options = {}) {
  return storeNewKey(cart, options);
}

/**
 * Replaces `staleKey` (its replayed session expired) with a new key for the same cart, unless
 * another call already did: then that call's key is used, so two tabs or clicks that meet the
 * same expired session still end up with one new order between them.
 *
 * @param {string} cart
 * @param {string} staleKey
 * @param {KeyOptions} [options]
 * @returns {string}
 */
export function renewIdempotencyKey(cart, staleKey, options = {}) {
  const stored = readStoredKey(options);
  if (stored && stored.key !== staleKey && stored.cart === cart) return stored.key;
  return refreshIdempotencyKey(cart, options);
}

/**
 * After the order is paid: the next purchase, even of the same cart, is a new order.
 *
 * @param {KeyOptions} [options]
 * @returns {string} the new key
 */
export function onPaymentSucceeded(options = {}) {
  return refreshIdempotencyKey(null, options);
}

/**
 * After a payment attempt that failed while its Checkout Session is still open (a declined
 * card, or Cancel on the hosted page when the page does not release the order with
 * `cancelCheckout`): the key is kept, so trying again replays the same order and session
 * instead of reserving the stock a second time.
 *
 * @param {KeyOptions} [options]
 * @returns {string | undefined} the kept key
 */
export function onPaymentFailed(options = {}) {
  return readStoredKey(options)?.key;
}

/**
 * After the order ended without payment for good (`expired`, cancelled by `cancelCheckout`,
 * or `payment_failed` from a delayed method, whose session is complete): its session can never
 * be paid, so the same cart must become a new order with a new key.
 *
 * @param {KeyOptions} [options]
 * @returns {string} the new key
 */
export function onOrderClosed(options = {}) {
  return refreshIdempotencyKey(null, options);
}
