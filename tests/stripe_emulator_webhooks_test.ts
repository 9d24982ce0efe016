import assert from "node:assert/strict";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";
import type { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import type { EmulatorOptions } from "../local/stripe-emulator/mod.ts";
import { type EmulatorContext, withEmulator } from "./stripe_emulator_helpers.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../local/stripe-emulator/testing.ts";

const WEBHOOK_SECRET = "whsec_test_webhooks_secret";
const cryptoProvider = Stripe.createSubtleCryptoProvider();

/** The emulator delivering to `receiver`, with a compressed retry schedule. */
async function withDeliveringEmulator(
  receiver: WebhookReceiver,
  options: Partial<EmulatorOptions>,
  fn: (ctx: EmulatorContext) => Promise<void>,
): Promise<void> {
  try {
    await withEmulator({
      webhookSecret: WEBHOOK_SECRET,
      webhookEndpoint: receiver.url,
      webhookRetryDelaysMs: [20, 40, 80],
      ...options,
    }, fn);
  } finally {
    await receiver.stop();
  }
}

function verify(
  body: string,
  signature: string | null,
  secret = WEBHOOK_SECRET,
): Promise<Stripe.Event> {
  return Stripe.webhooks.constructEventAsync(
    body,
    signature ?? "",
    secret,
    undefined,
    cryptoProvider,
  );
}

async function paidSession(
  stripe: Stripe,
  control: EmulatorControl,
): Promise<Stripe.Checkout.Session> {
  const { now } = await control.clock();
  const session = await stripe.checkout.sessions.create({
    mode: "payment",
    line_items: [{
      quantity: 1,
      price_data: { currency: "eur", unit_amount: 2500, product_data: { name: "Book" } },
    }],
    success_url: "https://shop.example/ok",
    metadata: { order_id: "o-9" },
    expires_at: now + 3600,
  });
  const response = await fetch(session.url ?? "", {
    method: "POST",
    body: new URLSearchParams({ action: "pay" }),
    redirect: "manual",
  });
  assert.equal(response.status, 303);
  return session;
}

Deno.test("delivers events signed as Stripe signs them, verified by constructEventAsync", async () => {
  const receiver = startWebhookReceiver(async (body, signature) => {
    try {
      await verify(body, signature);
      return 200;
    } catch {
      return 400;
    }
  });
  await withDeliveringEmulator(receiver, {}, async ({ stripe, control }) => {
    const session = await paidSession(stripe, control);
    const [delivery] = await receiver.waitFor(1);
    assert.equal(delivery?.status, 200);
    const event = await verify(delivery?.body ?? "", delivery?.signature ?? null);
    assert.equal(event.type, "checkout.session.completed");
    assert.match(event.id, /^evt_/);
    assert.equal(event.object, "event");
    assert.equal(event.livemode, false);
    assert.equal(event.api_version, "2026-10-28.endive");
    assert.equal(typeof event.pending_webhooks, "number");
    assert.ok(event.type === "checkout.session.completed");
    assert.equal(event.data.object.id, session.id);
    assert.equal(event.data.object.payment_status, "paid");
    await assert.rejects(
      verify(delivery?.body ?? "", delivery?.signature ?? null, "whsec_wrong"),
      Stripe.errors.StripeSignatureVerificationError,
    );
    const t = Number(/t=(\d+)/.exec(delivery?.signature ?? "")?.[1]);
    assert.ok(Math.abs(t - Date.now() / 1000) < 5, "t is the real wall clock");

    // After a clock advance of ten days, signatures still pass the 300 s tolerance.
    await control.advanceClock(10 * 24 * 3600);
    await stripe.customers.create({ email: "later@example.com" });
    const [, later] = await receiver.waitFor(2);
    assert.equal(later?.status, 200);
    const laterEvent = await verify(later?.body ?? "", later?.signature ?? null);
    assert.ok(
      laterEvent.created > Date.now() / 1000 + 9 * 24 * 3600,
      "created uses the emulator clock",
    );
  });
});

Deno.test("retries a delivery with backoff until the receiver answers 2xx", async () => {
  const receiver = startWebhookReceiver((_body, _signature, index) => (index < 2 ? 500 : 200));
  await withDeliveringEmulator(receiver, {}, async ({ stripe, control }) => {
    await stripe.customers.create({ email: "retry@example.com" });
    const deliveries = await receiver.waitFor(3);
    assert.deepEqual(deliveries.map((d) => d.status), [500, 500, 200]);
    const ids = deliveries.map((d) => JSON.parse(d.body).id);
    assert.equal(new Set(ids).size, 1, "the same event each time");
    const state = await control.waitForDeliveries();
    assert.deepEqual(state.deliveries.map((d) => d.attempt), [1, 2, 3]);
    const counters = await control.counters();
    assert.deepEqual(counters.webhooks, { attempts: 3, successes: 1, failures: 2 });
  });
});

Deno.test("stops retrying after the bounded number of attempts", async () => {
  const receiver = startWebhookReceiver(() => 503);
  await withDeliveringEmulator(
    receiver,
    { webhookRetryDelaysMs: [10, 10] },
    async ({ stripe, control }) => {
      await stripe.customers.create({});
      await receiver.waitFor(3);
      const state = await control.waitForDeliveries();
      assert.equal(state.deliveries.length, 3);
      await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(receiver.received.length, 3);
    },
  );
});

Deno.test("with automatic delivery off, tests deliver chosen events by hand in the order they choose", async () => {
  const receiver = startWebhookReceiver();
  await withDeliveringEmulator(receiver, {}, async ({ stripe, control }) => {
    await control.setWebhooks({ auto: false });
    const session = await paidSession(stripe, control);
    await control.refund(session.id);
    assert.equal(receiver.received.length, 0);
    const [refunded] = (await stripe.events.list({ type: "charge.refunded" })).data;
    const [completed] = (await stripe.events.list({ type: "checkout.session.completed" })).data;
    const result = await control.deliverEvents([refunded?.id ?? "", completed?.id ?? ""]);
    assert.deepEqual(result.statuses, [200, 200]);
    assert.deepEqual(receiver.received.map((d) => JSON.parse(d.body).type), [
      "charge.refunded",
      "checkout.session.completed",
    ]);
  });
});

Deno.test("delivers one event N times concurrently and reports each delivery's status", async () => {
  let inFlight = 0;
  let maxInFlight = 0;
  let arrivals = 0;
  const receiver = startWebhookReceiver(async () => {
    const index = arrivals++;
    inFlight += 1;
    maxInFlight = Math.max(maxInFlight, inFlight);
    await new Promise((resolve) => setTimeout(resolve, 50));
    inFlight -= 1;
    return index === 0 ? 200 : 409;
  });
  await withDeliveringEmulator(receiver, {}, async ({ stripe, control, emulator }) => {
    await control.setWebhooks({ auto: false });
    const customer = await stripe.customers.create({});
    const [event] = (await stripe.events.list({ type: "customer.created" })).data;
    assert.ok(event?.type === "customer.created" && event.data.object.id === customer.id);
    const result = await control.deliverEvent(event.id, { times: 3, concurrent: true });
    assert.equal(result.statuses.length, 3);
    assert.deepEqual([...result.statuses].sort(), [200, 409, 409]);
    assert.equal(maxInFlight, 3, "really concurrent");

    // The module API can point deliveries elsewhere; with no endpoint, nothing is sent.
    emulator.setWebhookEndpoint(undefined);
    assert.deepEqual((await control.deliverEvent(event.id)).statuses, [0]);
  });
});
