import assert from "node:assert/strict";
import { createStripeClient, Stripe } from "../supabase/functions/_shared/stripe.ts";
import { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import { startEmulator } from "../local/stripe-emulator/mod.ts";
import {
  SESSION_TTL_WITH_MARGIN_SECONDS,
  twoItemSessionParams,
  withEmulator,
} from "./stripe_emulator_helpers.ts";

const sessionParams = (now: number) => twoItemSessionParams(now, "order-1");

async function expectStripeError(
  promise: Promise<unknown>,
  expected: { type?: string; code?: string; param?: string; statusCode?: number; klass?: string },
): Promise<void> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof Stripe.errors.StripeError, `expected a StripeError, got ${error}`);
    if (expected.klass) assert.equal(error.constructor.name, expected.klass);
    if (expected.type) assert.equal(error.rawType, expected.type);
    if (expected.code) assert.equal(error.code, expected.code);
    if (expected.param) assert.equal(error.param, expected.param);
    if (expected.statusCode) assert.equal(error.statusCode, expected.statusCode);
    return;
  }
  assert.fail("expected the call to fail");
}

Deno.test("creates a checkout session with Stripe's fields and returns it on retrieve", async () => {
  await withEmulator({}, async ({ stripe, control, emulator }) => {
    const { now } = await control.clock();
    const session = await stripe.checkout.sessions.create(sessionParams(now));
    assert.match(session.id, /^cs_test_/);
    assert.equal(session.object, "checkout.session");
    assert.equal(session.status, "open");
    assert.equal(session.payment_status, "unpaid");
    assert.equal(session.amount_subtotal, 4200);
    assert.equal(session.amount_total, 4200);
    assert.equal(session.currency, "usd");
    assert.equal(session.client_reference_id, "order-1");
    assert.deepEqual(session.metadata, { order_id: "order-1" });
    assert.equal(session.expires_at, now + SESSION_TTL_WITH_MARGIN_SECONDS);
    assert.equal(session.customer_email, "ada@example.com");
    assert.equal(session.customer, null);
    assert.equal(session.payment_intent, null);
    assert.equal(session.mode, "payment");
    assert.equal(session.livemode, false);
    assert.equal(session.url, `${emulator.url}/c/pay/${session.id}`);
    assert.equal(
      session.success_url,
      "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
    );
    assert.match(session.lastResponse.requestId, /^req_/);

    const again = await stripe.checkout.sessions.retrieve(session.id, { expand: ["line_items"] });
    assert.equal(again.id, session.id);
    assert.equal(again.line_items?.data.length, 2);
    assert.equal(again.line_items?.data[0]?.amount_total, 3000);
    const items = await stripe.checkout.sessions.listLineItems(session.id);
    assert.deepEqual(items.data.map((i) => i.description), ["Widget", "Gadget"]);
  });
});

Deno.test("retrieving an unknown session raises resource_missing with status 404", async () => {
  await withEmulator({}, async ({ stripe }) => {
    await expectStripeError(stripe.checkout.sessions.retrieve("cs_test_nope"), {
      klass: "StripeInvalidRequestError",
      code: "resource_missing",
      statusCode: 404,
    });
  });
});

Deno.test("creates and retrieves customers, and a session for an existing customer", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const customer = await stripe.customers.create({
      email: "grace@example.com",
      metadata: { user_id: "u1" },
    });
    assert.match(customer.id, /^cus_/);
    assert.equal(customer.object, "customer");
    const fetched = await stripe.customers.retrieve(customer.id);
    assert.equal(fetched.id, customer.id);
    assert.ok(!fetched.deleted);
    assert.equal(fetched.email, "grace@example.com");
    assert.deepEqual(fetched.metadata, { user_id: "u1" });

    const { now } = await control.clock();
    const { customer_email: _, ...params } = sessionParams(now);
    const session = await stripe.checkout.sessions.create({ ...params, customer: customer.id });
    assert.equal(session.customer, customer.id);
    await expectStripeError(stripe.customers.retrieve("cus_missing"), {
      code: "resource_missing",
      statusCode: 404,
    });
  });
});

Deno.test("rejects a session for a customer that does not exist with resource_missing on customer", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    const { customer_email: _, ...params } = sessionParams(now);
    await expectStripeError(stripe.checkout.sessions.create({ ...params, customer: "cus_ghost" }), {
      klass: "StripeInvalidRequestError",
      code: "resource_missing",
      param: "customer",
    });
  });
});

Deno.test("validates checkout session parameters as Stripe does, naming the param", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    const base = sessionParams(now);
    const item = (patch: Record<string, unknown>) => ({
      quantity: 1,
      price_data: { currency: "usd", unit_amount: 100, product_data: { name: "X" } },
      ...patch,
    });
    const cases: [string, Stripe.Checkout.SessionCreateParams, { param: string; code?: string }][] =
      [
        ["expires_at too soon", { ...base, expires_at: now + 10 * 60 }, { param: "expires_at" }],
        ["expires_at too late", { ...base, expires_at: now + 25 * 3600 }, { param: "expires_at" }],
        ["no line items", { ...base, line_items: [] }, {
          param: "line_items",
          code: "parameter_missing",
        }],
        ["too many line items", {
          ...base,
          line_items: Array.from({ length: 101 }, () => item({})),
        }, { param: "line_items" }],
        ["quantity 0", { ...base, line_items: [item({ quantity: 0 })] }, {
          param: "line_items[0][quantity]",
        }],
        [
          "negative unit_amount",
          {
            ...base,
            line_items: [
              item({
                price_data: { currency: "usd", unit_amount: -1, product_data: { name: "X" } },
              }),
            ],
          },
          { param: "line_items[0][price_data][unit_amount]" },
        ],
        [
          "fractional unit_amount",
          {
            ...base,
            line_items: [
              item({
                price_data: { currency: "usd", unit_amount: 1.5, product_data: { name: "X" } },
              }),
            ],
          },
          { param: "line_items[0][price_data][unit_amount]", code: "parameter_invalid_integer" },
        ],
        [
          "upper-case currency",
          {
            ...base,
            line_items: [
              item({
                price_data: { currency: "USD", unit_amount: 1, product_data: { name: "X" } },
              }),
            ],
          },
          { param: "line_items[0][price_data][currency]" },
        ],
        [
          "two currencies",
          {
            ...base,
            line_items: [
              item({}),
              item({
                price_data: { currency: "eur", unit_amount: 1, product_data: { name: "Y" } },
              }),
            ],
          },
          { param: "line_items[1][price_data][currency]" },
        ],
        ["relative success_url", { ...base, success_url: "/thanks" }, {
          param: "success_url",
          code: "url_invalid",
        }],
        [
          "missing success_url",
          { ...base, success_url: undefined },
          { param: "success_url", code: "parameter_missing" },
        ],
      ];
    for (const [name, params, expected] of cases) {
      try {
        await stripe.checkout.sessions.create(params);
        assert.fail(`${name}: expected an error`);
      } catch (error) {
        assert.ok(
          error instanceof Stripe.errors.StripeInvalidRequestError,
          `${name}: got ${error}`,
        );
        assert.equal(error.rawType, "invalid_request_error", name);
        assert.equal(error.statusCode, 400, name);
        assert.equal(error.param, expected.param, name);
        if (expected.code) assert.equal(error.code, expected.code, name);
      }
    }
    assert.equal((await control.counters()).created.checkout_session, 0);
  });
});

Deno.test("rejects an unknown parameter with parameter_unknown and the param's path", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    const params = {
      ...sessionParams(now),
      shiny_new_option: "yes",
    } as Stripe.Checkout.SessionCreateParams;
    await expectStripeError(stripe.checkout.sessions.create(params), {
      type: "invalid_request_error",
      code: "parameter_unknown",
      param: "shiny_new_option",
    });
    const nested = sessionParams(now);
    const lineItems = [{
      quantity: 1,
      price_data: { currency: "usd", unit_amount: 5, product_data: { name: "X", colour: "red" } },
    }];
    await expectStripeError(
      stripe.checkout.sessions.create(
        { ...nested, line_items: lineItems } as Stripe.Checkout.SessionCreateParams,
      ),
      { code: "parameter_unknown", param: "line_items[0][price_data][product_data][colour]" },
    );
  });
});

Deno.test("answers a missing or wrong API key with 401 and the SDK's authentication error", async () => {
  const emulator = await startEmulator({
    port: 0,
    webhookSecret: "whsec_x",
    secretKey: "sk_test_right",
    quiet: true,
  });
  try {
    const wrong = createStripeClient({
      secretKey: "sk_test_wrong",
      apiBase: emulator.url,
      maxNetworkRetries: 0,
    });
    await expectStripeError(wrong.customers.create({}), {
      klass: "StripeAuthenticationError",
      statusCode: 401,
    });
    const response = await fetch(`${emulator.url}/v1/customers`, { method: "POST" });
    assert.equal(response.status, 401);
    const body = await response.json();
    assert.equal(body.error.type, "invalid_request_error");
    assert.match(body.error.message, /You did not provide an API key/);
    const right = createStripeClient({
      secretKey: "sk_test_right",
      apiBase: emulator.url,
      maxNetworkRetries: 0,
    });
    assert.match((await right.customers.create({})).id, /^cus_/);
    const counters = await new EmulatorControl(emulator.url).counters();
    assert.equal(counters.created.customer, 1);
  } finally {
    await emulator.stop();
  }
});

Deno.test("applies a percent or amount promotion code and rejects an unknown one", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    const tenPercent = await control.createPromotionCode({ code: "TENOFF", percent_off: 10 });
    const fiveDollars = await control.createPromotionCode({
      code: "FIVE",
      amount_off: 500,
      currency: "usd",
    });
    const a = await stripe.checkout.sessions.create({
      ...sessionParams(now),
      discounts: [{ promotion_code: tenPercent.id }],
    });
    assert.equal(a.amount_subtotal, 4200);
    assert.equal(a.amount_total, 3780);
    assert.equal(a.total_details?.amount_discount, 420);
    const b = await stripe.checkout.sessions.create({
      ...sessionParams(now),
      discounts: [{ promotion_code: fiveDollars.id }],
    });
    assert.equal(b.amount_total, 3700);
    const found = await stripe.promotionCodes.list({ code: "TENOFF" });
    assert.equal(found.data[0]?.id, tenPercent.id);
    await expectStripeError(
      stripe.checkout.sessions.create({
        ...sessionParams(now),
        discounts: [{ promotion_code: "promo_nope" }],
      }),
      { code: "resource_missing", param: "discounts[0][promotion_code]" },
    );
  });
});

Deno.test("lists events newest first with type, limit and starting_after, and retrieves one", async () => {
  await withEmulator({}, async ({ stripe }) => {
    const customers = [];
    for (let i = 0; i < 3; i++) {
      customers.push(await stripe.customers.create({ email: `c${i}@example.com` }));
    }
    const all = await stripe.events.list({ type: "customer.created" });
    assert.equal(all.data.length, 3);
    const objectId = (event: Stripe.Event | undefined) =>
      event?.type === "customer.created" ? event.data.object.id : undefined;
    assert.equal(objectId(all.data[0]), customers[2]?.id);
    const firstPage = await stripe.events.list({ type: "customer.*", limit: 2 });
    assert.equal(firstPage.data.length, 2);
    assert.equal(firstPage.has_more, true);
    const secondPage = await stripe.events.list({
      limit: 2,
      starting_after: firstPage.data[1]?.id,
    });
    assert.equal(secondPage.data.length, 1);
    assert.equal(secondPage.has_more, false);
    assert.equal(objectId(secondPage.data[0]), customers[0]?.id);
    const none = await stripe.events.list({ type: "checkout.session.completed" });
    assert.equal(none.data.length, 0);
    const one = await stripe.events.retrieve(all.data[0]?.id ?? "");
    assert.equal(one.object, "event");
    assert.equal(one.type, "customer.created");
    assert.match(one.id, /^evt_/);
    assert.equal(one.request?.idempotency_key?.startsWith("stripe-node-retry-"), true);
    await expectStripeError(stripe.events.retrieve("evt_missing"), {
      code: "resource_missing",
      statusCode: 404,
    });
  });
});

Deno.test("lists checkout sessions newest first, by created range and status, page by page", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    const made = [];
    for (let i = 0; i < 3; i++) {
      made.push(await stripe.checkout.sessions.create(sessionParams(now)));
    }
    await stripe.checkout.sessions.expire(made[0]?.id ?? "");

    const first = await stripe.checkout.sessions.list({ limit: 2 });
    assert.deepEqual(first.data.map((s) => s.id), [made[2]?.id, made[1]?.id]);
    assert.equal(first.has_more, true);
    const all = [];
    for await (const session of stripe.checkout.sessions.list({ limit: 1 })) all.push(session.id);
    assert.deepEqual(all, made.map((s) => s.id).reverse());

    const open = await stripe.checkout.sessions.list({ status: "open" });
    assert.deepEqual(open.data.map((s) => s.id), [made[2]?.id, made[1]?.id]);
    const later = await stripe.checkout.sessions.list({ created: { gte: now + 60 } });
    assert.deepEqual(later.data, []);
    const since = await stripe.checkout.sessions.list({ created: { gte: now } });
    assert.equal(since.data.length, 3);

    await expectStripeError(stripe.checkout.sessions.list({ starting_after: "cs_test_nope" }), {
      statusCode: 400,
      param: "starting_after",
    });
    await expectStripeError(
      stripe.checkout.sessions.list({ status: "paid" as "open" }),
      { statusCode: 400, param: "status" },
    );
  });
});
