import assert from "node:assert/strict";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";
import type { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import { withEmulator } from "./stripe_emulator_helpers.ts";
import { waitUntil } from "./checkout_helpers.ts";

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

/**
 * How long the delay faults below hold a request. The tests never sleep against it: they
 * poll the emulator for the state they assert on. It only has to outlast the client's short
 * timeout plus a local round trip or two, which it does with ample room on a loaded machine.
 */
const SLOW_MS = 2_000;

async function createdSessions(control: EmulatorControl): Promise<number> {
  return (await control.counters()).created.checkout_session;
}

/**
 * Sends the create with `key` until the emulator stops answering 409 idempotency_key_in_use,
 * that is until an earlier request with the key has finished; returns what it then answers.
 */
async function createOnceKeyIsFree(
  stripe: Stripe,
  p: Stripe.Checkout.SessionCreateParams,
  key: string,
): Promise<Stripe.Checkout.Session> {
  let session: Stripe.Checkout.Session | undefined;
  await waitUntil(`the earlier request with key ${key} has finished`, async () => {
    try {
      session = await stripe.checkout.sessions.create(p, { idempotencyKey: key });
      return true;
    } catch (error) {
      if (error instanceof Stripe.errors.StripeError && error.code === "idempotency_key_in_use") {
        return false;
      }
      throw error;
    }
  });
  assert.ok(session);
  return session;
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

Deno.test("fault after on a replay: the lost answer is a proxy's error, never marked Idempotent-Replayed", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0);
    const p = await params(control);
    const created = await stripe.checkout.sessions.create(p, { idempotencyKey: "k-after-replay" });
    await control.addFault({ route: ROUTE, mode: "after", status: 500 });
    // Stripe replayed the saved success; what the client got instead is not a saved 500, so
    // it must not look like one (a client re-keys only after a replayed 5xx).
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-after-replay" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeAPIError, String(error));
        assert.equal(error.statusCode, 500);
        assert.equal(error.headers?.["idempotent-replayed"], undefined);
        return true;
      },
    );
    const again = await stripe.checkout.sessions.create(p, { idempotencyKey: "k-after-replay" });
    assert.equal(again.id, created.id);
    assert.equal((await control.counters()).created.checkout_session, 1);
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
    await control.addFault({ route: ROUTE, mode: "delay", delay_ms: SLOW_MS, phase: "after" });
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-delay" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeConnectionError, String(error));
        assert.match(error.message, /timeout/);
        return true;
      },
    );
    await waitUntil(
      "the abandoned request has created its session",
      async () => (await createdSessions(control)) > 0,
    );
    assert.equal(await createdSessions(control), 1, "created before the answer");
    // While the first request still runs, the key is in use.
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-delay" }),
      (error: unknown) => {
        assert.ok(error instanceof Stripe.errors.StripeError);
        assert.equal(error.code, "idempotency_key_in_use");
        return true;
      },
    );
    const session = await createOnceKeyIsFree(client(0), p, "k-delay");
    assert.match(session.id, /^cs_test_/);
    const counters = await control.counters();
    assert.equal(counters.created.checkout_session, 1);
    assert.equal(counters.idempotent_replays, 1, "the same key replays the first session");
  });
});

Deno.test("fault delay (before phase): nothing exists during the wait, the session appears once it ends", async () => {
  await withEmulator({}, async ({ control, client }) => {
    const stripe = client(0, 150);
    const p = await params(control);
    await control.addFault({ route: ROUTE, mode: "delay", delay_ms: SLOW_MS, phase: "before" });
    await assert.rejects(
      stripe.checkout.sessions.create(p, { idempotencyKey: "k-slow" }),
      Stripe.errors.StripeConnectionError,
    );
    // The request did reach the emulator, so "nothing exists" is not just "nothing arrived".
    await waitUntil(
      "the request has reached the emulator",
      async () => ((await control.counters()).calls[ROUTE] ?? 0) > 0,
    );
    assert.equal(await createdSessions(control), 0);
    await waitUntil(
      "the delayed request has created its session",
      async () => (await createdSessions(control)) > 0,
    );
    assert.equal(await createdSessions(control), 1);
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
    await waitUntil(
      "the first request has created its session and holds the key",
      async () => (await createdSessions(control)) === 2,
    );
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
