import assert from "node:assert/strict";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";
import { startWebhookReceiver, type WebhookReceiver } from "../local/stripe-emulator/testing.ts";
import {
  type EmulatorContext,
  paidTwoItemSession,
  stripeRejection,
  twoItemSessionParams,
  withEmulator,
} from "./stripe_emulator_helpers.ts";

const SECRET = "whsec_delivery_tests";

async function withReceiver(
  fn: (ctx: EmulatorContext, receiver: WebhookReceiver) => Promise<void>,
): Promise<void> {
  const receiver = startWebhookReceiver();
  try {
    await withEmulator({
      webhookSecret: SECRET,
      webhookEndpoint: receiver.url,
      webhookRetryDelaysMs: [20, 40],
    }, (ctx) => fn(ctx, receiver));
  } finally {
    await receiver.stop();
  }
}

async function ids(list: Promise<Stripe.ApiList<Stripe.Event>>): Promise<string[]> {
  return (await list).data.map((e) => e.id);
}

const receivedIds = (receiver: WebhookReceiver) =>
  receiver.received.map((r) => (JSON.parse(r.body) as { id: string }).id);

Deno.test("endpoint down (hold): events are created and listed, nothing is attempted; resume delivers them", async () => {
  await withReceiver(async (ctx, receiver) => {
    const { stripe, control } = ctx;
    await stripe.customers.create({ email: "before@example.com" });
    await receiver.waitFor(1);
    await control.waitForDeliveries();
    const down = await control.stopWebhooks();
    assert.equal(down.endpoint_state, "hold");

    const session = await paidTwoItemSession(ctx, "order-down");
    await stripe.refunds.create({ payment_intent: String(session.payment_intent), amount: 100 });
    const missedTypes = ["checkout.session.completed", "refund.created", "charge.refunded"];
    const listed = (await stripe.events.list({ delivery_success: false })).data;
    assert.deepEqual(listed.map((e) => e.type).reverse(), missedTypes);
    assert.ok(listed.every((e) => e.pending_webhooks === 1));
    const state = await control.webhooks();
    assert.equal(state.missed, 3);
    assert.equal(state.deliveries.length, 1, "nothing attempted while held");
    assert.equal(receiver.received.length, 1);
    // A hand delivery meets the same dead endpoint.
    const { statuses } = await control.deliverEvent(listed[0]?.id ?? "");
    assert.deepEqual(statuses, [0]);

    const resumed = await control.resumeWebhooks();
    assert.equal(resumed.endpoint_state, "up");
    assert.deepEqual([...resumed.delivering].sort(), listed.map((e) => e.id).sort());
    await receiver.waitFor(4);
    await control.waitForDeliveries();
    assert.deepEqual(receivedIds(receiver).slice(1).sort(), listed.map((e) => e.id).sort());
    for (const { body, signature } of receiver.received) {
      await Stripe.webhooks.constructEventAsync(
        body,
        signature ?? "",
        SECRET,
        undefined,
        Stripe.createSubtleCryptoProvider(),
      );
    }
    assert.deepEqual(await ids(stripe.events.list({ delivery_success: false })), []);
    const delivered = (await stripe.events.list({ delivery_success: true })).data;
    assert.equal(delivered.length, 4);
    assert.ok(delivered.every((e) => e.pending_webhooks === 0));
    assert.equal((await control.webhooks()).missed, 0);
  });
});

Deno.test("endpoint down (fail): attempts fail without reaching the receiver; resume without redelivery leaves them undelivered", async () => {
  await withReceiver(async (ctx, receiver) => {
    const { stripe, control } = ctx;
    await control.stopWebhooks("fail");
    const customer = await stripe.customers.create({ email: "lost@example.com" });
    await control.waitForDeliveries();
    const state = await control.webhooks();
    assert.deepEqual(state.deliveries.map((d) => d.status), [0, 0, 0]);
    assert.match(state.deliveries[0]?.error ?? "", /endpoint down/);
    assert.equal(receiver.received.length, 0);
    const [lost] = (await stripe.events.list({ delivery_success: false })).data;
    assert.equal(lost?.type, "customer.created");
    assert.equal((lost?.data.object as Stripe.Customer).id, customer.id);

    const resumed = await control.resumeWebhooks({ deliverPending: false });
    assert.deepEqual(resumed.delivering, []);
    await stripe.customers.create({ email: "after@example.com" });
    await receiver.waitFor(1);
    await control.waitForDeliveries();
    assert.equal(receiver.received.length, 1);
    assert.deepEqual(await ids(stripe.events.list({ delivery_success: false })), [lost?.id]);
    assert.equal((await stripe.events.list({ delivery_success: true })).data.length, 1);
    // Still there for a catch-up job: delivering it by hand now succeeds.
    assert.deepEqual((await control.deliverEvent(lost?.id ?? "")).statuses, [200]);
    assert.deepEqual(await ids(stripe.events.list({ delivery_success: false })), []);
  });
});

Deno.test("GET /v1/events pages with limit, has_more, starting_after and ending_before, with filters", async () => {
  await withReceiver(async ({ stripe, control }, receiver) => {
    await control.stopWebhooks();
    for (let i = 0; i < 7; i++) await stripe.customers.create({ email: `c${i}@example.com` });
    const all = await ids(stripe.events.list({ limit: 100 }));
    assert.equal(all.length, 7);

    const page1 = await stripe.events.list({ limit: 3, delivery_success: false });
    assert.equal(page1.has_more, true);
    assert.deepEqual(page1.data.map((e) => e.id), all.slice(0, 3));
    const page2 = await stripe.events.list({
      limit: 3,
      delivery_success: false,
      starting_after: page1.data[2]?.id,
    });
    assert.deepEqual(page2.data.map((e) => e.id), all.slice(3, 6));
    assert.equal(page2.has_more, true);
    const page3 = await stripe.events.list({ limit: 3, starting_after: page2.data[2]?.id });
    assert.deepEqual(page3.data.map((e) => e.id), all.slice(6));
    assert.equal(page3.has_more, false);
    const back = await stripe.events.list({ limit: 3, ending_before: page3.data[0]?.id });
    assert.deepEqual(back.data.map((e) => e.id), all.slice(3, 6));
    assert.equal(back.has_more, true);
    const first = await stripe.events.list({ limit: 3, ending_before: all[2] });
    assert.deepEqual(first.data.map((e) => e.id), all.slice(0, 2));
    assert.equal(first.has_more, false);

    // Auto-pagination walks the same cursors; delivery_success=true matches none yet.
    const walked: string[] = [];
    for await (const event of stripe.events.list({ limit: 2, types: ["customer.created"] })) {
      walked.push(event.id);
    }
    assert.deepEqual(walked, all);
    assert.deepEqual(await ids(stripe.events.list({ delivery_success: true })), []);
    const bad = await stripeRejection(
      stripe.events.list({ delivery_success: "maybe" as unknown as boolean }),
    );
    assert.equal(bad.param, "delivery_success");
    await control.resumeWebhooks();
    await receiver.waitFor(7);
    await control.waitForDeliveries();
  });
});

Deno.test("checkout.sessions.expire: the hosted page refuses payment, one checkout.session.expired, a complete session cannot expire", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { now } = await control.clock();
    const session = await stripe.checkout.sessions.create(twoItemSessionParams(now, "order-e"));
    const expired = await stripe.checkout.sessions.expire(session.id);
    assert.equal(expired.status, "expired");
    assert.equal(expired.url, null);
    const page = await fetch(session.url ?? "", {
      method: "POST",
      body: new URLSearchParams({ action: "pay" }),
      redirect: "manual",
    });
    assert.equal(page.status, 409);
    assert.match(await page.text(), /expired/);
    await assert.rejects(control.pay(session.id), /status of \\"expired\\"/);
    assert.equal((await stripe.checkout.sessions.retrieve(session.id)).payment_status, "unpaid");
    await control.advanceClock(2 * 24 * 3600);
    const expiredEvents = await stripe.events.list({ type: "checkout.session.expired" });
    assert.equal(expiredEvents.data.length, 1);
    assert.equal((await control.counters()).created.payment_intent, 0);

    const paid = await paidTwoItemSession(ctx, "order-paid");
    const error = await stripeRejection(stripe.checkout.sessions.expire(paid.id));
    assert.ok(error instanceof Stripe.errors.StripeInvalidRequestError);
    assert.equal(error.statusCode, 400);
    assert.match(error.message, /status of "complete"/);
    assert.equal((await stripe.checkout.sessions.retrieve(paid.id)).status, "complete");
  });
});
