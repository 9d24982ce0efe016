/**
 * The demo shop in a real Chromium (playwright-core driving CHROMIUM_PATH, a system Chromium,
 * or the one npm installed: tests/chromium.ts)
 * against the whole local stack: gateway, functions, Postgres, Stripe emulator, webhook.
 * Screenshots of every step land in test-artifacts/browser/. No chromium → these tests fail,
 * they never skip.
 */
import assert from "node:assert/strict";
import type { Page, Request as PwRequest } from "npm:playwright-core@1.65.1";
import { PROJECT_ROOT } from "../local/stack/paths.ts";
import { createDemoRoutes, DEMO_USER } from "../local/demo/routes.ts";
import { launchChromium } from "./chromium.ts";
import { startTestStack, type TestStack } from "./harness.ts";

const ARTIFACTS = `${PROJECT_ROOT}/test-artifacts/browser`;
const BEANS = "00000000-0000-4000-8000-000000000001"; // stock 100
const FILTERS = "00000000-0000-4000-8000-000000000003"; // unlimited stock
const OPTS = { sanitizeOps: false, sanitizeResources: false };

/** A stack with the demo mounted, and a fresh Chromium profile pointed at it. */
async function startShop(name: string) {
  const demo = createDemoRoutes();
  const stack = await startTestStack({ extraRoutes: demo.handle });
  demo.attach(stack);
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  try {
    browser = await launchChromium();
  } catch (error) {
    await stack.stop();
    throw error;
  }
  const page = await browser.context.newPage();
  page.setDefaultTimeout(20_000);
  const pageErrors: string[] = [];
  page.on("pageerror", (error) => pageErrors.push(error.message));
  const shots = screenshots(page, name);
  return {
    stack,
    page,
    pageErrors,
    shot: shots,
    async [Symbol.asyncDispose]() {
      await browser[Symbol.asyncDispose]();
      await stack.stop();
    },
  };
}

function screenshots(page: Page, test: string) {
  let step = 0;
  return async (label: string) => {
    const dir = `${ARTIFACTS}/${test}`;
    await Deno.mkdir(dir, { recursive: true });
    const file = `${dir}/${String(++step).padStart(2, "0")}-${label}.png`;
    await page.screenshot({ path: file, fullPage: true });
  };
}

async function openShop(page: Page, stack: TestStack): Promise<void> {
  await page.goto(`${stack.apiUrl}/`);
  await page.waitForSelector("body[data-ready=true]");
}

async function addToCart(page: Page, productId: string): Promise<void> {
  await page.click(`#product-${productId} .add-to-cart`);
}

/** Fails fast, with the shop's own message, when the checkout fails in the page. */
async function waitForHostedPage(page: Page, stack: TestStack): Promise<void> {
  const arrived = page.waitForURL((url) => url.href.startsWith(`${stack.stripeUrl}/c/pay/cs_`))
    .then(() => undefined);
  const failed = page.waitForSelector("#status.error").then(
    async (element) => `checkout failed in the page: ${await element?.textContent()}`,
    // Navigated away while looking: the page left for the hosted page, or the URL wait fails.
    () => undefined,
  ).then((problem) => problem ?? arrived);
  const problem = await Promise.race([arrived, failed]);
  if (problem) throw new Error(problem);
  await page.waitForSelector("#pay");
}

async function payAndWaitForPaid(page: Page): Promise<void> {
  await page.click("#pay");
  await page.waitForURL((url) => url.pathname === "/success");
  await page.waitForSelector("#order-status[data-status=paid]");
  await page.waitForSelector("body[data-settled=paid]");
}

/** Checkout POSTs the page sent (preflights excluded), in order. */
function checkoutRequests(page: Page, name: string): PwRequest[] {
  const seen: PwRequest[] = [];
  page.on("request", (request) => {
    if (
      request.method() === "POST" && new URL(request.url()).pathname === `/functions/v1/${name}`
    ) {
      seen.push(request);
    }
  });
  return seen;
}

async function sessionsCreated(stack: TestStack): Promise<number> {
  const response = await fetch(`${stack.stripeUrl}/_emulator/counters`);
  const counters = await response.json() as { created: { checkout_session: number } };
  return counters.created.checkout_session;
}

async function storedKey(page: Page): Promise<{ key: string; cart: string | null } | null> {
  return await page.evaluate(() =>
    JSON.parse(localStorage.getItem("checkout-idempotency-key") ?? "null")
  );
}

Deno.test("a guest buys from the demo shop and sees the order become paid", OPTS, async () => {
  await using shop = await startShop("guest");
  const { page, stack, shot } = shop;
  await openShop(page, stack);
  await shot("shop");
  await addToCart(page, BEANS);
  await addToCart(page, BEANS);
  await page.fill("#email", "guest-browser@example.com");
  await shot("cart");
  await page.click("#checkout");
  await waitForHostedPage(page, stack);
  await shot("hosted-checkout");
  await payAndWaitForPaid(page);
  await shot("paid");

  const orders = await stack.sql<
    { status: string; email: string; user_id: string | null; idempotency_key: string }[]
  >`select status, email, user_id, idempotency_key from public.orders`;
  assert.equal(orders.length, 1);
  assert.equal(orders[0]?.status, "paid");
  assert.equal(orders[0]?.email, "guest-browser@example.com");
  assert.equal(orders[0]?.user_id, null);
  const [beans] = await stack.sql<{ stock: number }[]>`
    select stock from public.products where id = ${BEANS}`;
  assert.equal(beans?.stock, 98);
  // Paid → the browser holds a new, unbound key: the next purchase is a new order.
  const key = await storedKey(page);
  assert.ok(key, "no key stored after payment");
  assert.notEqual(key.key, orders[0]?.idempotency_key);
  assert.equal(key.cart, null);
  assert.equal(await page.evaluate(() => localStorage.getItem("demo-cart")), null);
  assert.deepEqual(shop.pageErrors, []);
});

Deno.test("the demo user signs in and pays through enhanced checkout", OPTS, async () => {
  await using shop = await startShop("enhanced");
  const { page, stack, shot } = shop;
  await openShop(page, stack);
  await page.click("#sign-in");
  await page.waitForSelector("#signed-in:not([hidden])");
  await addToCart(page, FILTERS);
  await shot("signed-in-cart");
  await page.click("#checkout");
  await waitForHostedPage(page, stack);
  await shot("hosted-checkout");
  await payAndWaitForPaid(page);
  await shot("paid");

  const orders = await stack.sql<
    { status: string; scope: string; user_id: string; email: string }[]
  >`
    select status, scope, user_id, email from public.orders`;
  assert.equal(orders.length, 1);
  assert.equal(orders[0]?.status, "paid");
  assert.equal(orders[0]?.user_id, DEMO_USER.id);
  assert.equal(orders[0]?.scope, `user:${DEMO_USER.id}`);
  assert.equal(orders[0]?.email, DEMO_USER.email);
  const customers = await stack.sql`
    select 1 from public.stripe_customers where user_id = ${DEMO_USER.id}`;
  assert.equal(customers.length, 1);
  assert.deepEqual(shop.pageErrors, []);
});

Deno.test("a double click on Checkout sends one key and makes one order", OPTS, async () => {
  await using shop = await startShop("double-click");
  const { page, stack, shot } = shop;
  const requests = checkoutRequests(page, "guest-checkout");
  await openShop(page, stack);
  await addToCart(page, FILTERS);
  await page.dblclick("#checkout");
  await waitForHostedPage(page, stack);
  await shot("hosted-checkout");

  // Both clicks really reached the server; the key made the second one harmless.
  assert.ok(requests.length >= 2, `only ${requests.length} checkout request(s) were sent`);
  const keys = new Set(await Promise.all(requests.map((r) => r.headerValue("idempotency-key"))));
  assert.equal(keys.size, 1, `keys sent: ${[...keys].join(", ")}`);
  const orders = await stack.sql`select id from public.orders`;
  assert.equal(orders.length, 1);
  assert.equal(await sessionsCreated(stack), 1);
  await payAndWaitForPaid(page);
  await shot("paid");
  assert.deepEqual(shop.pageErrors, []);
});

Deno.test(
  "a lost checkout response is retried with the same key: one order, one session",
  OPTS,
  async () => {
    await using shop = await startShop("dropped-response");
    const { page, stack, shot } = shop;
    const requests = checkoutRequests(page, "guest-checkout");
    let dropped = 0;
    await page.route("**/functions/v1/guest-checkout", async (route) => {
      if (route.request().method() === "POST" && dropped === 0) {
        dropped++;
        // The server runs the request to the end; only its answer is lost on the way back.
        const answer = await route.fetch();
        assert.equal(answer.status(), 201);
        await route.abort("connectionreset");
        return;
      }
      await route.continue();
    });
    const replays: string[] = [];
    page.on("response", (response) => {
      if (new URL(response.url()).pathname === "/functions/v1/guest-checkout") {
        const replayed = response.headers()["idempotent-replayed"];
        if (replayed) replays.push(replayed);
      }
    });
    await openShop(page, stack);
    await addToCart(page, BEANS);
    await page.click("#checkout");
    await waitForHostedPage(page, stack);
    await shot("hosted-checkout-after-retry");

    assert.equal(dropped, 1);
    assert.equal(requests.length, 2);
    const [first, second] = await Promise.all(
      requests.map((r) => r.headerValue("idempotency-key")),
    );
    assert.ok(first);
    assert.equal(second, first);
    assert.deepEqual(replays, ["true"]);
    const orders = await stack.sql<{ status: string }[]>`select status from public.orders`;
    assert.equal(orders.length, 1);
    assert.equal(await sessionsCreated(stack), 1);
    const [beans] = await stack.sql<{ stock: number }[]>`
      select stock from public.products where id = ${BEANS}`;
    assert.equal(beans?.stock, 99, "stock was reserved more than once");
    await payAndWaitForPaid(page);
    await shot("paid");
    assert.deepEqual(shop.pageErrors, []);
  },
);

Deno.test(
  "Cancel on the hosted page brings the shopper back to the cart, the order released",
  OPTS,
  async () => {
    await using shop = await startShop("cancel");
    const { page, stack, shot } = shop;
    const cancels = checkoutRequests(page, "guest-checkout/cancel");
    await openShop(page, stack);
    await addToCart(page, BEANS);
    await addToCart(page, BEANS);
    await page.click("#checkout");
    await waitForHostedPage(page, stack);
    const [reserved] = await stack.sql<{ stock: number }[]>`
      select stock from public.products where id = ${BEANS}`;
    assert.equal(reserved?.stock, 98);
    await page.click("#cancel");
    await page.waitForURL((url) => url.origin === stack.apiUrl && url.pathname === "/");
    await page.waitForSelector("body[data-ready=true]");
    await shot("back-on-cart");

    assert.equal(cancels.length, 1, "the cart page sent one cancel");
    const [order] = await stack.sql<
      { id: string; status: string; idempotency_key: string; cancelled_at: Date | null }[]
    >`select id, status, idempotency_key, cancelled_at from public.orders`;
    assert.equal(order?.status, "expired");
    assert.ok(order.cancelled_at, "released by the cancel route, not by the session's expiry");
    assert.equal(await cancels[0]?.headerValue("idempotency-key"), order.idempotency_key);
    const [beans] = await stack.sql<{ stock: number }[]>`
      select stock from public.products where id = ${BEANS}`;
    assert.equal(beans?.stock, 100, "the reservation is back");
    assert.match(await page.textContent("#status") ?? "", new RegExp(`${order.id} is expired`));
    // The page shows the stock that is back, and the cart is kept.
    assert.match(await page.textContent(`#product-${BEANS}`) ?? "", /100 left/);
    assert.equal((await page.$$("#cart li")).length, 1);

    // The released order can never be paid: checking out again makes a new order.
    const key = await storedKey(page);
    assert.notEqual(key?.key, order.idempotency_key);
    await page.click("#checkout");
    await waitForHostedPage(page, stack);
    await payAndWaitForPaid(page);
    await shot("paid-second-order");
    const orders = await stack.sql<{ status: string }[]>`
      select status from public.orders order by created_at`;
    assert.deepEqual(orders.map((o) => o.status), ["expired", "paid"]);
    assert.deepEqual(shop.pageErrors, []);
  },
);
