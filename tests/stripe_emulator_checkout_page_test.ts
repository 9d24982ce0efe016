import assert from "node:assert/strict";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";
import type { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import {
  SESSION_TTL_WITH_MARGIN_SECONDS,
  twoItemSessionParams,
  withEmulator,
} from "./stripe_emulator_helpers.ts";

async function createSession(
  stripe: Stripe,
  control: EmulatorControl,
): Promise<Stripe.Checkout.Session> {
  const { now } = await control.clock();
  return await stripe.checkout.sessions.create(twoItemSessionParams(now, "order-7"));
}

/** Submits the hosted page's form the way a browser does, without following the redirect. */
function submit(session: Stripe.Checkout.Session, action: string): Promise<Response> {
  return fetch(session.url ?? "", {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ action }),
    redirect: "manual",
  });
}

async function eventsOfType(stripe: Stripe, type: string): Promise<Stripe.Event[]> {
  return (await stripe.events.list({ type })).data;
}

function sessionOf(event: Stripe.Event | undefined): Stripe.Checkout.Session {
  assert.ok(
    event && event.type.startsWith("checkout.session."),
    `not a checkout event: ${event?.type}`,
  );
  return event.data.object as Stripe.Checkout.Session;
}

async function waitForEvent(stripe: Stripe, type: string, timeoutMs = 3000): Promise<Stripe.Event> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const [event] = await eventsOfType(stripe, type);
    if (event) return event;
    if (Date.now() > deadline) throw new Error(`no ${type} event within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

Deno.test("serves a hosted page with the line items, the total and the Pay, delayed and Cancel buttons", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    const response = await fetch(session.url ?? "");
    assert.equal(response.status, 200);
    assert.match(response.headers.get("content-type") ?? "", /text\/html/);
    const html = await response.text();
    for (
      const text of [
        "Widget",
        "Gadget",
        "42.00 USD",
        'id="pay"',
        'id="pay-delayed-succeed"',
        'id="pay-delayed-fail"',
        'id="cancel"',
      ]
    ) {
      assert.ok(html.includes(text), `page lacks ${text}`);
    }
    assert.equal(
      await fetch(`${new URL(session.url ?? "").origin}/c/pay/cs_test_unknown`).then((r) =>
        r.body?.cancel().then(() => r.status)
      ),
      404,
    );
  });
});

Deno.test("Pay completes the session as paid, emits checkout.session.completed and redirects to success_url", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    const response = await submit(session, "pay");
    assert.equal(response.status, 303);
    assert.equal(
      response.headers.get("location"),
      `https://shop.example/thanks?session_id=${session.id}`,
    );
    const paid = await stripe.checkout.sessions.retrieve(session.id);
    assert.equal(paid.status, "complete");
    assert.equal(paid.payment_status, "paid");
    assert.match(String(paid.payment_intent), /^pi_/);
    assert.equal(paid.url, null);
    assert.equal(paid.customer_details?.email, "ada@example.com");
    const [completed] = await eventsOfType(stripe, "checkout.session.completed");
    const object = sessionOf(completed);
    assert.equal(object.id, session.id);
    assert.equal(object.payment_status, "paid");
    assert.equal(object.amount_total, 4200);
    assert.equal(
      (await submit(session, "pay")).status,
      409,
      "a completed session cannot be paid twice",
    );
    assert.equal((await eventsOfType(stripe, "checkout.session.completed")).length, 1);
  });
});

Deno.test("a delayed payment completes unpaid, then async_payment_succeeded marks it paid", async () => {
  await withEmulator({ asyncPaymentDelayMs: 50 }, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    const response = await submit(session, "pay_delayed_succeed");
    assert.equal(response.status, 303);
    assert.equal(
      response.headers.get("location"),
      `https://shop.example/thanks?session_id=${session.id}`,
    );
    const completed = sessionOf((await eventsOfType(stripe, "checkout.session.completed"))[0]);
    assert.equal(completed.status, "complete");
    assert.equal(completed.payment_status, "unpaid");
    const succeeded = sessionOf(
      await waitForEvent(stripe, "checkout.session.async_payment_succeeded"),
    );
    assert.equal(succeeded.payment_status, "paid");
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).payment_status, "paid");
  });
});

Deno.test("a delayed payment chosen to fail emits async_payment_failed when settled through the control API", async () => {
  await withEmulator({ asyncPaymentDelayMs: -1 }, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    assert.equal((await submit(session, "pay_delayed_fail")).status, 303);
    assert.equal(
      (await eventsOfType(stripe, "checkout.session.async_payment_failed")).length,
      0,
      "waits for the control API",
    );
    await control.settleAsync(session.id);
    const failed = sessionOf(
      (await eventsOfType(stripe, "checkout.session.async_payment_failed"))[0],
    );
    assert.equal(failed.id, session.id);
    assert.equal(failed.payment_status, "unpaid");
    assert.equal(
      (await eventsOfType(stripe, "checkout.session.async_payment_succeeded")).length,
      0,
    );
  });
});

Deno.test("Cancel redirects to cancel_url and leaves the session open", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    const response = await submit(session, "cancel");
    assert.equal(response.status, 303);
    assert.equal(response.headers.get("location"), "https://shop.example/cart");
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).status, "open");
    assert.equal((await stripe.events.list({ type: "checkout.session.*" })).data.length, 0);
  });
});

Deno.test("advancing the clock past expires_at expires open sessions with checkout.session.expired", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    const paid = await createSession(stripe, control);
    await submit(paid, "pay");
    await control.advanceClock(SESSION_TTL_WITH_MARGIN_SECONDS - 60);
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).status, "open");
    const advanced = await control.advanceClock(60);
    assert.deepEqual(advanced.expired, [session.id]);
    const expired = await stripe.checkout.sessions.retrieve(session.id);
    assert.equal(expired.status, "expired");
    assert.equal(expired.url, null);
    const events = await eventsOfType(stripe, "checkout.session.expired");
    assert.equal(events.length, 1);
    assert.equal(sessionOf(events[0]).id, session.id);
    assert.equal(events[0]?.created, advanced.now);
    assert.equal((await submit(session, "pay")).status, 409);
  });
});

Deno.test("the expire endpoint expires an open session at once and refuses one that is not open", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    const expired = await stripe.checkout.sessions.expire(session.id, {}, {
      idempotencyKey: "expire-1",
    });
    assert.equal(expired.status, "expired");
    const [event] = await eventsOfType(stripe, "checkout.session.expired");
    assert.equal(event?.request?.idempotency_key, "expire-1");
    await assert.rejects(stripe.checkout.sessions.expire(session.id), (error: unknown) => {
      assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError, String(error));
      assert.match(error.message, /status of "expired"/);
      return true;
    });
    await assert.rejects(stripe.checkout.sessions.expire("cs_test_missing"), (error: unknown) => {
      assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
      assert.equal(error.code, "resource_missing");
      return true;
    });
  });
});

Deno.test("a refund through the control API emits charge.refunded with the payment intent's metadata", async () => {
  await withEmulator({}, async ({ stripe, control }) => {
    const session = await createSession(stripe, control);
    await submit(session, "pay");
    const charge = await control.refund(session.id);
    assert.equal(charge.refunded, true);
    const [event] = await eventsOfType(stripe, "charge.refunded");
    assert.ok(event?.type === "charge.refunded");
    const refunded = event.data.object;
    assert.match(refunded.id, /^ch_/);
    assert.equal(refunded.amount, 4200);
    assert.equal(refunded.amount_refunded, 4200);
    assert.equal(refunded.refunded, true);
    assert.equal(refunded.currency, "usd");
    assert.equal(
      refunded.payment_intent,
      (await stripe.checkout.sessions.retrieve(session.id)).payment_intent,
    );
    assert.deepEqual(refunded.metadata, { order_id: "order-7" });
    await assert.rejects(control.refund(session.id), /unrefunded amount/);
  });
});
