import assert from "node:assert/strict";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";
import type { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import { withEmulator } from "./stripe_emulator_helpers.ts";

const ROUTE = "POST /v1/checkout/sessions";

async function params(control: EmulatorControl): Promise<Stripe.Checkout.SessionCreateParams> {
  const { now } = await control.clock();
  return {
    mode: "payment",
    line_items: [{
      quantity: 1,
      price_data: { currency: "usd", unit_amount: 999, product_data: { name: "Thing" } },
    }],
    success_url: "https://shop.example/ok",
    expires_at: now + 3600,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("fault before: the client gets the status, nothing is created or saved, and the same key then succeeds", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0);
    const p = await params(control);
    await control.addFault({ route: ROUTE, mode: "before", status: 503 });
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-before" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeAPIError, String(error));
        assert.equal(error.statusCode, 503);
        return true;
      },
    );
    assert.equal((await control.counters()).created.checkout_session, 0);
    const session = await stripe.checkout.sessions.create(p, { idempotencyKey: "k-before" });
    assert.match(session.id, /^cs_test_/);
    const counters = await control.counters();
    assert.equal(counters.created.checkout_session, 1);
    assert.equal(counters.idempotent_replays, 0);
    assert.equal(counters.calls[ROUTE], 2);
  });
});

Deno.test("fault after: the session is created and saved while the client sees only the error; the retry replays it", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0);
    const p = await params(control);
    await control.addFault({ route: ROUTE, mode: "after", status: 500 });
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-after" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeAPIError, String(error));
        assert.equal(error.statusCode, 500);
        assert.equal(error.rawType, "api_error");
        return true;
      },
    );
    assert.equal((await control.counters()).created.checkout_session, 1);
    const session = await stripe.checkout.sessions.create(p, { idempotencyKey: "k-after" });
    const counters = await control.counters();
    assert.equal(counters.created.checkout_session, 1);
    assert.equal(counters.idempotent_replays, 1);
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).id, session.id);
  });
});

Deno.test("fault saved_500: the 500 is saved and replayed on every retry with that key; a new key succeeds", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0);
    const p = await params(control);
    await control.addFault({ route: ROUTE, mode: "saved_500" });
    for (const replayed of [undefined, "true", "true"]) {
      await assert.rejects(
        stripe.checkout.sessions.create(p, { idempotencyKey: "k-500" }),
        (error: unknown) => {
          assert.ok(error instanceof Stripe.errors.StripeAPIError, String(error));
          assert.equal(error.statusCode, 500);
          assert.equal(error.headers?.["idempotent-replayed"], replayed);
          return true;
        },
      );
    }
    assert.equal((await control.counters()).created.checkout_session, 0);
    const session = await stripe.checkout.sessions.create(p, { idempotencyKey: "k-500-rekeyed" });
    assert.match(session.id, /^cs_test_/);
    assert.equal((await control.counters()).created.checkout_session, 1);
  });
});

Deno.test("fault delay (after phase): the session exists while the client times out, and the same key replays it", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0, 200);
    const p = await params(control);
    await control.addFault({ route: ROUTE, mode: "delay", delay_ms: 600, phase: "after" });
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-delay" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeConnectionError, String(error));
        assert.match(error.message, /timeout/);
        return true;
      },
    );
    assert.equal(
      (await control.counters()).created.checkout_session,
      1,
      "created before the answer",
    );
    // While the first request still runs, the key is in use.
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-delay" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeError);
        assert.equal(error.code, "idempotency_key_in_use");
        return true;
      },
    );
    await sleep(600);
    const session = await client(0).checkout.sessions.create(p, { idempotencyKey: "k-delay" });
    assert.match(session.id, /^cs_test_/);
    assert.equal((await control.counters()).created.checkout_session, 1);
  });
});

Deno.test("fault delay (before phase): nothing exists during the wait, the session appears once it ends", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0, 150);
    const p = await params(control);
    await control.addFault({ route: ROUTE, mode: "delay", delay_ms: 400, phase: "before" });
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-slow" }),
      Stripe.errors.StripeConnectionError,
    );
    assert.equal((await control.counters()).created.checkout_session, 0);
    await sleep(450);
    assert.equal((await control.counters()).created.checkout_session, 1);
  });
});

Deno.test("fault drop_after: the SDK sees a connection error, the session exists, and the same key replays it", async () => {
  await withEmulator({}, async ({ control, client }) => {
    for (const retries of [0, 2]) {
      const stripe = client(retries);
      const p = await params(control);
      const key = `k-drop-${retries}`;
      await control.addFault({ route: ROUTE, mode: "drop_after" });
      await assert.rejects(
        stripe.checkout.sessions.create(p, { idempotencyKey: key }),
        (error: unknown) => {
          assert.ok(error instanceof Stripe.errors.StripeConnectionError, String(error));
          return true;
        },
      );
      const session = await stripe.checkout.sessions.create(p, { idempotencyKey: key });
      assert.match(session.id, /^cs_test_/);
    }
    const counters = await control.counters();
    assert.equal(counters.created.checkout_session, 2, "one per key");
    assert.equal(counters.idempotent_replays, 2);
  });
});

Deno.test("the SDK's automatic retries plus the stored key never create two sessions", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(3);
    const p = await params(control);
    // Two lost answers in a row: the effect happens once, the SDK retries with its own key.
    await control.addFault({ route: ROUTE, mode: "after", status: 500, times: 2 });
    const session = await stripe.checkout.sessions.create(p);
    assert.match(session.id, /^cs_test_/);
    let counters = await control.counters();
    assert.equal(counters.calls[ROUTE], 3);
    assert.equal(counters.created.checkout_session, 1);
    assert.equal(counters.idempotent_replays, 2);

    // A duplicate sent while the first is still executing gets 409s, which the SDK retries
    // until the first finishes; then it receives the saved session.
    await control.addFault({ route: ROUTE, mode: "delay", delay_ms: 700, phase: "after" });
    const first = stripe.checkout.sessions.create(p, { idempotencyKey: "k-dup" });
    await sleep(100);
    const duplicate = await stripe.checkout.sessions.create(p, { idempotencyKey: "k-dup" });
    assert.equal(duplicate.id, (await first).id);
    counters = await control.counters();
    assert.equal(counters.created.checkout_session, 2);
  });
});

Deno.test("faults are consumed per route and can be cleared", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0);
    await control.addFault({ route: "POST /v1/customers", mode: "before", status: 500, times: 5 });
    await assert.rejects(stripe.customers.create({}), Stripe.errors.StripeAPIError);
    await control.clearFaults();
    assert.match((await stripe.customers.create({})).id, /^cus_/);
    assert.match((await stripe.checkout.sessions.create(await params(control))).id, /^cs_test_/);
    const counters = await control.counters();
    assert.equal(counters.faults_triggered, 1);
    assert.equal(counters.calls["POST /v1/customers"], 2);
  });
});
