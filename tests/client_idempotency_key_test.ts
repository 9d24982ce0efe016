import assert from "node:assert/strict";
import {
  checkoutFingerprint,
  clearIdempotencyKey,
  createMemoryStorage,
  getOrCreateIdempotencyKey,
  MAX_KEY_AGE_MS,
  normalizeCheckoutRequest,
  onOrderClosed,
  onPaymentFailed,
  onPaymentSucceeded,
  readStoredKey,
  refreshIdempotencyKey,
  rememberOrder,
  renewIdempotencyKey,
  STORAGE_KEY,
} from "../client/mod.js";

const A = "00000000-0000-4000-8000-000000000001";
const B = "00000000-0000-4000-8000-000000000002";
const URLS = { success_url: "http://shop/ok", cancel_url: "http://shop/cart" };

/** A storage stand-in, a counter for UUIDs and a settable clock: every key is predictable. */
function world() {
  const storage = createMemoryStorage();
  let uuids = 0;
  const clock = { now: 1_000_000 };
  return {
    storage,
    clock,
    options: {
      storage,
      randomUUID: () => `key-${++uuids}`,
      now: () => clock.now,
    },
  };
}

const cartOf = (items: { product_id: string; quantity: number }[], email = "ada@example.com") =>
  checkoutFingerprint("guest-checkout", { items, email, ...URLS });

Deno.test("stores the key under checkout-idempotency-key together with its cart", async () => {
  const { storage, options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const key = getOrCreateIdempotencyKey(cart, options);
  assert.equal(key, "key-1");
  const raw = JSON.parse(storage.getItem(STORAGE_KEY) ?? "null");
  assert.deepEqual(raw, { key: "key-1", cart, created_at: 1_000_000 });
});

Deno.test("the same cart keeps its key across calls and reloads", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const first = getOrCreateIdempotencyKey(cart, options);
  // A reload is a new call over the same storage with a recomputed fingerprint.
  const again = getOrCreateIdempotencyKey(await cartOf([{ product_id: A, quantity: 1 }]), options);
  assert.equal(again, first);
});

Deno.test("a changed cart gets a new key", async () => {
  const { options } = world();
  const one = getOrCreateIdempotencyKey(await cartOf([{ product_id: A, quantity: 1 }]), options);
  const two = getOrCreateIdempotencyKey(await cartOf([{ product_id: A, quantity: 2 }]), options);
  const three = getOrCreateIdempotencyKey(
    await cartOf([{ product_id: A, quantity: 2 }, { product_id: B, quantity: 1 }]),
    options,
  );
  const four = getOrCreateIdempotencyKey(
    await cartOf([{ product_id: A, quantity: 2 }, { product_id: B, quantity: 1 }], "bo@x.org"),
    options,
  );
  assert.equal(new Set([one, two, three, four]).size, 4);
});

Deno.test("item order does not change the cart; the body is sent sorted", async () => {
  const ab = [{ product_id: A, quantity: 1 }, { product_id: B, quantity: 3 }];
  const ba = [{ product_id: B, quantity: 3 }, { product_id: A, quantity: 1 }];
  assert.equal(await cartOf(ab), await cartOf(ba));
  assert.deepEqual(normalizeCheckoutRequest({ items: ba, ...URLS }).items, ab);
});

Deno.test("guest and enhanced checkouts of one cart never share a key", async () => {
  const body = { items: [{ product_id: A, quantity: 1 }], ...URLS };
  assert.notEqual(
    await checkoutFingerprint("guest-checkout", body),
    await checkoutFingerprint("enhanced-checkout", body),
  );
});

Deno.test("the stored fingerprint does not hold the email in clear", async () => {
  const { storage, options } = world();
  getOrCreateIdempotencyKey(await cartOf([{ product_id: A, quantity: 1 }]), options);
  const raw = storage.getItem(STORAGE_KEY) ?? "";
  assert.equal(raw.includes("ada@example.com"), false, raw);
  assert.match(JSON.parse(raw).cart, /^[0-9a-f]{64}$/);
});

Deno.test("refreshIdempotencyKey makes a new unbound key that the next cart adopts", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const old = getOrCreateIdempotencyKey(cart, options);
  const fresh = refreshIdempotencyKey(null, options);
  assert.notEqual(fresh, old);
  assert.equal(readStoredKey(options)?.cart, null);
  const other = await cartOf([{ product_id: B, quantity: 1 }]);
  assert.equal(getOrCreateIdempotencyKey(other, options), fresh);
  assert.equal(readStoredKey(options)?.cart, other);
});

Deno.test("clearIdempotencyKey forgets the key", async () => {
  const { storage, options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const old = getOrCreateIdempotencyKey(cart, options);
  clearIdempotencyKey(options);
  assert.equal(storage.getItem(STORAGE_KEY), null);
  assert.notEqual(getOrCreateIdempotencyKey(cart, options), old);
});

Deno.test("after a paid order the same cart is a new order with a new key", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const paid = getOrCreateIdempotencyKey(cart, options);
  const next = onPaymentSucceeded(options);
  assert.notEqual(next, paid);
  assert.equal(getOrCreateIdempotencyKey(cart, options), next);
});

Deno.test("after a failed payment the key is kept, so a retry resumes the same order", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const key = getOrCreateIdempotencyKey(cart, options);
  assert.equal(onPaymentFailed(options), key);
  assert.equal(getOrCreateIdempotencyKey(cart, options), key);
});

Deno.test("after an order closed unpaid (expired, failed for good) the cart gets a new key", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const key = getOrCreateIdempotencyKey(cart, options);
  onOrderClosed(options);
  assert.notEqual(getOrCreateIdempotencyKey(cart, options), key);
});

Deno.test("a key older than the server keeps request keys is replaced", async () => {
  const { clock, options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const key = getOrCreateIdempotencyKey(cart, options);
  clock.now += MAX_KEY_AGE_MS - 1;
  assert.equal(getOrCreateIdempotencyKey(cart, options), key);
  clock.now += 1;
  assert.notEqual(getOrCreateIdempotencyKey(cart, options), key);
});

Deno.test("an unreadable stored value (old bare UUID, garbage) is replaced", async () => {
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  for (const stored of ["8e03978e-40d5-43e8-bc93-6894a57f9324", "{", '{"key":""}', "null"]) {
    const { storage, options } = world();
    storage.setItem(STORAGE_KEY, stored);
    assert.equal(getOrCreateIdempotencyKey(cart, options), "key-1", stored);
  }
});

Deno.test("renewing a stale key twice for one cart yields one new key", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const stale = getOrCreateIdempotencyKey(cart, options);
  const first = renewIdempotencyKey(cart, stale, options);
  const second = renewIdempotencyKey(cart, stale, options);
  assert.notEqual(first, stale);
  assert.equal(second, first);
  // A renewal of the current key does make a new one.
  assert.notEqual(renewIdempotencyKey(cart, first, options), first);
});

Deno.test("without any storage given, a page without localStorage still keeps its key", async () => {
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const descriptor = Object.getOwnPropertyDescriptor(globalThis, "localStorage");
  // Safari's private mode throws on access; the key must then live in memory for the page.
  Object.defineProperty(globalThis, "localStorage", {
    configurable: true,
    get() {
      throw new DOMException("denied", "SecurityError");
    },
  });
  try {
    const key = getOrCreateIdempotencyKey(cart);
    assert.equal(getOrCreateIdempotencyKey(cart), key);
  } finally {
    if (descriptor) Object.defineProperty(globalThis, "localStorage", descriptor);
    else Reflect.deleteProperty(globalThis, "localStorage");
  }
});

Deno.test("rememberOrder notes the order on its own key only, and the cart keeps that key", async () => {
  const { options } = world();
  const cart = await cartOf([{ product_id: A, quantity: 1 }]);
  const key = getOrCreateIdempotencyKey(cart, options);
  rememberOrder(key, "order-1", "guest-checkout", options);
  assert.deepEqual(readStoredKey(options), {
    key,
    cart,
    created_at: 1_000_000,
    order_id: "order-1",
    function_name: "guest-checkout",
  });
  assert.equal(getOrCreateIdempotencyKey(cart, options), key);

  // A key replaced meanwhile (another tab) is not given the old key's order.
  const next = refreshIdempotencyKey(null, options);
  rememberOrder(key, "order-1", "guest-checkout", options);
  assert.deepEqual(readStoredKey(options), { key: next, cart: null, created_at: 1_000_000 });
});
