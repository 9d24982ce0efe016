// @ts-check
/**
 * The shop page: products from the anon RPC, a cart, guest or demo-user checkout through the
 * browser client, then off to the hosted checkout page.
 *
 * The Checkout button stays enabled while a checkout is under way, on purpose: a second click
 * sends the same cart with the same idempotency key, and the server answers it with the same
 * order and session. That is what this demo exists to show (tests/browser_checkout_test.ts).
 * Back from the hosted page's Cancel (cancel_url is this page with `?cancelled=1`), the page
 * releases the order at once (`cancelCheckout`): its stock is back before the session expires.
 */
import {
  cancelCheckout,
  CheckoutError,
  createCheckout,
  fetchTransport,
  readStoredKey,
} from "../../client/mod.js";
import {
  byId,
  loadConfig,
  money,
  readCart,
  readSession,
  rpc,
  signIn,
  signOut,
  writeCart,
} from "./shop_api.js";

/** @typedef {import("./shop_api.js").Product} Product */

const config = await loadConfig();
/** @type {Map<string, Product>} */
const products = new Map();
const transport = fetchTransport({
  functionsUrl: `${location.origin}/functions/v1`,
  // A publishable key belongs in `apikey` only; the signed-in user's token goes in Authorization.
  headers: { apikey: config.publishableKey },
});

const status = byId("status");
const checkoutButton = /** @type {HTMLButtonElement} */ (byId("checkout"));
const emailInput = /** @type {HTMLInputElement} */ (byId("email"));

/**
 * @param {string} text
 * @param {boolean} [isError]
 */
function say(text, isError = false) {
  status.textContent = text;
  status.classList.toggle("error", isError);
}

function showKey() {
  byId("idempotency-key").textContent = readStoredKey()?.key ?? "none yet";
}

function renderProducts() {
  const list = byId("products");
  list.replaceChildren(...[...products.values()].map((product) => {
    const item = document.createElement("li");
    item.id = `product-${product.id}`;
    const title = document.createElement("h3");
    title.textContent = product.name;
    const description = document.createElement("p");
    description.className = "muted";
    description.textContent = product.description ?? "";
    const price = document.createElement("p");
    price.textContent = `${money(product.unit_amount, product.currency)} · ${
      product.stock === null ? "in stock" : `${product.stock} left`
    }`;
    const add = document.createElement("button");
    add.type = "button";
    add.textContent = "Add to cart";
    add.dataset.productId = product.id;
    add.className = "add-to-cart";
    add.disabled = product.stock === 0;
    add.addEventListener("click", () => addToCart(product.id));
    item.append(title, description, price, add);
    return item;
  }));
  list.setAttribute("aria-busy", "false");
}

/** @param {string} productId */
function addToCart(productId) {
  const cart = readCart();
  const line = cart.find((item) => item.product_id === productId);
  if (line) line.quantity = Math.min(99, line.quantity + 1);
  else cart.push({ product_id: productId, quantity: 1 });
  writeCart(cart);
  renderCart();
}

/** @param {string} productId */
function removeFromCart(productId) {
  writeCart(readCart().filter((item) => item.product_id !== productId));
  renderCart();
}

function renderCart() {
  const cart = readCart().filter((item) => products.has(item.product_id));
  const list = byId("cart");
  list.replaceChildren(...cart.map((item) => {
    const product = products.get(item.product_id);
    const line = document.createElement("li");
    line.className = "cart-line";
    line.textContent = `${item.quantity} × ${product?.name ?? item.product_id} `;
    const remove = document.createElement("button");
    remove.type = "button";
    remove.textContent = "Remove";
    remove.addEventListener("click", () => removeFromCart(item.product_id));
    line.append(remove);
    return line;
  }));
  const currencies = new Set(cart.map((item) => products.get(item.product_id)?.currency));
  const total = cart.reduce(
    (sum, item) => sum + item.quantity * (products.get(item.product_id)?.unit_amount ?? 0),
    0,
  );
  const [currency] = currencies;
  byId("cart-total").textContent = cart.length === 0
    ? "—"
    : currencies.size === 1 && currency
    ? money(total, currency)
    : "mixed currencies (the server will refuse this cart)";
  checkoutButton.disabled = cart.length === 0;
}

function renderWho() {
  const session = readSession();
  byId("guest-fields").hidden = session !== undefined;
  byId("signed-in").hidden = session === undefined;
  byId("sign-in").hidden = session !== undefined;
  byId("user-email").textContent = session?.user.email ?? "";
  checkoutButton.textContent = session ? "Checkout" : "Checkout as guest";
}

async function checkout() {
  const session = readSession();
  const cart = readCart();
  if (cart.length === 0) return;
  say("Creating your checkout…");
  try {
    const result = await createCheckout({
      items: cart,
      ...(session ? {} : { email: emailInput.value }),
      success_url: `${location.origin}/success?session_id={CHECKOUT_SESSION_ID}`,
      cancel_url: `${location.origin}/?cancelled=1`,
    }, {
      transport,
      accessToken: session?.access_token,
      onRetry: ({ reason, delayMs }) =>
        say(`No answer yet (${reason}); trying again in ${(delayMs / 1000).toFixed(1)} s…`),
    });
    showKey();
    say(
      `Order ${result.order_id} ${result.replayed ? "(replayed)" : "created"}; ` +
        "redirecting to the payment page…",
    );
    location.assign(result.checkout_url);
  } catch (error) {
    showKey();
    if (error instanceof CheckoutError) {
      say(`Checkout failed: ${error.message} (${error.code})`, true);
    } else {
      say(`Checkout failed: ${error instanceof Error ? error.message : String(error)}`, true);
    }
  }
}

checkoutButton.addEventListener("click", () => void checkout());
byId("sign-in").addEventListener("click", async () => {
  try {
    await signIn();
    renderWho();
  } catch (error) {
    say(`Sign-in failed: ${error instanceof Error ? error.message : String(error)}`, true);
  }
});
byId("sign-out").addEventListener("click", () => {
  signOut();
  renderWho();
});

/** Back from the hosted page's Cancel: give the order's reservation back now. */
async function releaseCancelledOrder() {
  say("Payment cancelled; releasing your order…");
  try {
    const released = await cancelCheckout({
      transport,
      accessToken: readSession()?.access_token,
    });
    say(
      released
        ? `Payment cancelled. Order ${released.order_id} is ${released.status} and its stock is ` +
          "back; your cart is kept, and checking out again makes a new order."
        : "Payment cancelled. Your cart is kept.",
    );
  } catch (error) {
    say(
      error instanceof CheckoutError
        ? `Payment cancelled, but the order was not released: ${error.message} (${error.code})`
        : `Payment cancelled, but the order was not released: ${String(error)}`,
      true,
    );
  }
  // A reload must not cancel again (it would be answered the same, but say so twice).
  history.replaceState(null, "", location.pathname);
}

renderWho();
if (new URLSearchParams(location.search).has("cancelled")) await releaseCancelledOrder();
showKey();
for (const product of /** @type {Product[]} */ (await rpc(config, "list_active_products"))) {
  products.set(product.id, product);
}
renderProducts();
renderCart();
document.body.dataset.ready = "true";
