import assert from "node:assert/strict";
import { createStripeClient, Stripe } from "../supabase/functions/_shared/stripe.ts";
import type { Emulator } from "../local/stripe-emulator/mod.ts";
import { EMULATOR_SECRET_KEY as SECRET_KEY, withEmulator } from "./stripe_emulator_helpers.ts";
import { waitUntil } from "./checkout_helpers.ts";

function sessionParams(now: number, name = "Widget"): Stripe.Checkout.SessionCreateParams {
  return {
    mode: "payment",
    line_items: [{
      quantity: 1,
      price_data: { currency: "usd", unit_amount: 4200, product_data: { name } },
    }],
    success_url: "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
    metadata: { order_id: "o-1" },
    expires_at: now + 3600,
  };
}

function rawPost(
  emulator: Emulator,
  path: string,
  body: string,
  key: string,
  apiKey = SECRET_KEY,
): Promise<Response> {
  return fetch(`${emulator.url}${path}`, {
    method: "POST",
    headers: {
      authorization: `Bearer ${apiKey}`,
      "content-type": "application/x-www-form-urlencoded",
      "idempotency-key": key,
    },
    body,
  });
}

Deno.test("replays the saved status and body for the same key and parameters, marked Idempotent-Replayed", async () => {
  await withEmulator({}, async ({ stripe, control, emulator }) => {
    const { now } = await control.clock();
    const first = await stripe.checkout.sessions.create(sessionParams(now), {
      idempotencyKey: "key-replay",
    });
    const second = await stripe.checkout.sessions.create(sessionParams(now), {
      idempotencyKey: "key-replay",
    });
    assert.equal(second.id, first.id);
    assert.deepEqual(second, first);

    const form = "name=Ada&email=ada%40example.com";
    const original = await rawPost(emulator, "/v1/customers", form, "key-raw");
    const originalBody = await original.text();
    assert.equal(original.headers.get("idempotent-replayed"), null);
    const replay = await rawPost(
      emulator,
      "/v1/customers",
      "email=ada%40example.com&name=Ada",
      "key-raw",
    );
    assert.equal(replay.status, original.status);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.headers.get("original-request"), original.headers.get("request-id"));
    assert.equal(await replay.text(), originalBody);

    const counters = await control.counters();
    assert.equal(counters.created.checkout_session, 1);
    assert.equal(counters.created.customer, 1);
    assert.equal(counters.idempotent_replays, 2);
  });
});

Deno.test("replays a saved error for the same key, as Stripe does for requests that began executing", async () => {
  await withEmulator({}, async ({ emulator, control }) => {
    const { now } = await control.clock();
    const body = new URLSearchParams({
      mode: "payment",
      "line_items[0][quantity]": "1",
      "line_items[0][price_data][currency]": "usd",
      "line_items[0][price_data][unit_amount]": "100",
      "line_items[0][price_data][product_data][name]": "X",
      success_url: "https://shop.example/ok",
      customer: "cus_ghost",
      expires_at: String(now + 3600),
    }).toString();
    const first = await rawPost(emulator, "/v1/checkout/sessions", body, "key-error");
    assert.equal(first.status, 400);
    const firstBody = await first.json();
    assert.equal(firstBody.error.code, "resource_missing");
    const again = await rawPost(emulator, "/v1/checkout/sessions", body, "key-error");
    assert.equal(again.status, 400);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.deepEqual(await again.json(), firstBody);
  });
});

Deno.test("rejects the same key with other parameters or another endpoint with idempotency_error", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    await stripe.checkout.sessions.create(sessionParams(now), { idempotencyKey: "key-mismatch" });
    await assert.rejects(
      stripe.checkout.sessions.create(sessionParams(now, "Other"), {
        idempotencyKey: "key-mismatch",
      }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeIdempotencyError, String(error));
        assert.equal(error.statusCode, 400);
        assert.match(error.message, /same parameters/);
        return true;
      },
    );
    await assert.rejects(
      stripe.customers.create({ email: "a@example.com" }, { idempotencyKey: "key-mismatch" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeIdempotencyError, String(error));
        assert.match(error.message, /same endpoint/);
        return true;
      },
    );
    assert.equal((await control.counters()).created.checkout_session, 1);
  });
});

Deno.test("answers 409 idempotency_key_in_use while the first request with the key is still executing", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    // The first request holds its key for delay_ms after creating the session. The test
    // waits for the creation itself, not for a guess at how long the request takes to get
    // there; the delay only has to outlast one local round trip, with ample room to spare.
    await control.addFault({
      route: "POST /v1/checkout/sessions",
      mode: "delay",
      delay_ms: 2_000,
      phase: "after",
    });
    const first = stripe.checkout.sessions.create(sessionParams(now), {
      idempotencyKey: "key-busy",
    });
    await waitUntil(
      "the first request has created its session and holds the key",
      async () => (await control.counters()).created.checkout_session === 1,
    );
    await assert.rejects(
      stripe.checkout.sessions.create(sessionParams(now), { idempotencyKey: "key-busy" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeError, String(error));
        assert.equal(error.statusCode, 409);
        assert.equal(error.rawType, "idempotency_error");
        assert.equal(error.code, "idempotency_key_in_use");
        return true;
      },
    );
    const created = await first;
    const replayed = await stripe.checkout.sessions.create(sessionParams(now), {
      idempotencyKey: "key-busy",
    });
    assert.equal(replayed.id, created.id);
    assert.equal((await control.counters()).created.checkout_session, 1);
  });
});

Deno.test("does not save a request that failed parameter validation, so the key works once corrected", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const { now } = await control.clock();
    await assert.rejects(
      stripe.checkout.sessions.create({ ...sessionParams(now), expires_at: now + 60 }, {
        idempotencyKey: "key-fix",
      }),
      Stripe.errors.StripeInvalidRequestError,
    );
    const session = await stripe.checkout.sessions.create(sessionParams(now), {
      idempotencyKey: "key-fix",
    });
    assert.match(session.id, /^cs_test_/);
    assert.equal((await control.counters()).idempotent_replays, 0);
  });
});

Deno.test("scopes idempotency keys to the API key", async () => {
  await withEmulator({}, async ({ stripe, control, emulator }) => {
    const other = createStripeClient({
      secretKey: "sk_test_someone_else",
      apiBase: emulator.url,
      maxNetworkRetries: 0,
    });
    const { now } = await control.clock();
    const a = await stripe.checkout.sessions.create(sessionParams(now), {
      idempotencyKey: "shared-key",
    });
    const b = await other.checkout.sessions.create(sessionParams(now, "Other"), {
      idempotencyKey: "shared-key",
    });
    assert.notEqual(a.id, b.id);
    assert.equal((await control.counters()).created.checkout_session, 2);
  });
});

Deno.test("forgets a key 24 hours (emulator time) after its first use", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const first = await stripe.customers.create({ email: "a@example.com" }, {
      idempotencyKey: "key-old",
    });
    await control.advanceClock(24 * 3600 - 10);
    const stillSaved = await stripe.customers.create({ email: "a@example.com" }, {
      idempotencyKey: "key-old",
    });
    assert.equal(stillSaved.id, first.id);
    await control.advanceClock(20);
    const fresh = await stripe.customers.create({ email: "b@example.com" }, {
      idempotencyKey: "key-old",
    });
    assert.notEqual(fresh.id, first.id);
  });
});
