import assert from "node:assert/strict";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";
import { startWebhookReceiver } from "../local/stripe-emulator/testing.ts";
import {
  type EmulatorContext,
  paidTwoItemSession,
  stripeRejection,
  twoItemSessionParams,
  withEmulator,
} from "./stripe_emulator_helpers.ts";

/** Every event so far, oldest first, as the API lists them. */
async function allEvents(stripe: Stripe): Promise<Stripe.Event[]> {
  const events: Stripe.Event[] = [];
  for await (const event of stripe.events.list({ limit: 100 })) events.push(event);
  return events.reverse();
}

async function paidIds(ctx: EmulatorContext, orderId = "order-r") {
  const session = await paidTwoItemSession(ctx, orderId);
  const intent = await ctx.stripe.paymentIntents.retrieve(String(session.payment_intent));
  return { session, intent, chargeId: String(intent.latest_charge) };
}

Deno.test("a paid session has a PaymentIntent and a Charge, retrievable through the API", async () => {
  await withEmulator({}, async (ctx) => {
    const { session, intent, chargeId } = await paidIds(ctx, "order-1");
    assert.match(intent.id, /^pi_/);
    assert.equal(intent.status, "succeeded");
    assert.equal(intent.amount, 4200);
    assert.deepEqual(intent.metadata, { order_id: "order-1" });
    const charge = await ctx.stripe.charges.retrieve(chargeId);
    assert.match(charge.id, /^ch_/);
    assert.equal(charge.payment_intent, session.payment_intent);
    assert.deepEqual(charge.metadata, { order_id: "order-1" });
    assert.equal(charge.amount_refunded, 0);
    assert.equal(charge.refunded, false);
    assert.equal(charge.disputed, false);
    const missing = await stripeRejection(ctx.stripe.charges.retrieve("ch_missing"));
    assert.equal(missing.code, "resource_missing");
    assert.equal(missing.statusCode, 404);
  });
});

Deno.test("refunds.create by payment_intent then by charge: running totals, Stripe's refund object and events", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { intent, chargeId } = await paidIds(ctx);
    const first = await stripe.refunds.create({
      payment_intent: intent.id,
      amount: 1000,
      reason: "requested_by_customer",
      metadata: { ticket: "T-1" },
    }, { idempotencyKey: "refund-1" });
    assert.match(first.id, /^re_/);
    assert.equal(first.object, "refund");
    assert.equal(first.amount, 1000);
    assert.equal(first.charge, chargeId);
    assert.equal(first.payment_intent, intent.id);
    assert.equal(first.status, "succeeded");
    assert.equal(first.reason, "requested_by_customer");
    assert.equal(first.currency, "usd");
    assert.deepEqual(first.metadata, { ticket: "T-1" });
    assert.equal(typeof first.created, "number");

    // No amount: all that is left.
    const rest = await stripe.refunds.create({ charge: chargeId });
    assert.equal(rest.amount, 3200);
    assert.equal(rest.reason, null);
    assert.deepEqual(rest.metadata, {});
    assert.deepEqual(await stripe.refunds.retrieve(first.id), first);

    const charge = await stripe.charges.retrieve(chargeId);
    assert.equal(charge.amount_refunded, 4200);
    assert.equal(charge.refunded, true);
    assert.deepEqual(charge.refunds?.data.map((r) => r.id), [rest.id, first.id]);

    const events = (await allEvents(stripe)).filter((e) => !e.type.startsWith("checkout."));
    assert.deepEqual(events.map((e) => e.type), [
      "refund.created",
      "charge.refunded",
      "refund.created",
      "charge.refunded",
    ]);
    const [created1, refunded1, , refunded2] = events;
    assert.ok(created1?.type === "refund.created" && refunded1?.type === "charge.refunded");
    assert.equal(created1.data.object.id, first.id);
    assert.equal(created1.request?.idempotency_key, "refund-1");
    assert.match(String(created1.request?.id), /^req_/);
    assert.equal(refunded1.data.object.id, chargeId);
    assert.equal(refunded1.data.object.amount_refunded, 1000);
    assert.equal(refunded1.data.object.refunded, false);
    assert.deepEqual(refunded1.data.object.metadata, { order_id: "order-r" });
    assert.ok(refunded2?.type === "charge.refunded");
    assert.equal(refunded2.data.object.amount_refunded, 4200);
    assert.equal(refunded2.data.object.refunded, true);
    assert.equal((await control.counters()).created.refund, 2);
  });
});

Deno.test("refunds.create is idempotent: concurrent identical requests make one refund; other params → idempotency_error", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { intent } = await paidIds(ctx);
    const results = await Promise.all(
      Array.from(
        { length: 20 },
        () =>
          stripe.refunds.create({ payment_intent: intent.id, amount: 500 }, {
            idempotencyKey: "same-key",
          }),
      ),
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 1);
    const counters = await control.counters();
    assert.equal(counters.created.refund, 1);
    assert.equal(counters.idempotent_replays, 19);
    const other = await stripeRejection(
      stripe.refunds.create({ payment_intent: intent.id, amount: 600 }, {
        idempotencyKey: "same-key",
      }),
    );
    assert.equal(other.type, "StripeIdempotencyError");
    assert.equal(
      (await stripe.charges.retrieve(String(intent.latest_charge))).amount_refunded,
      500,
    );
  });
});

Deno.test("refunds.create validates as Stripe does: over-refund, already refunded, missing params, unpaid intent", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { intent, chargeId } = await paidIds(ctx);

    const neither = await stripeRejection(stripe.refunds.create({ amount: 100 }));
    assert.equal(neither.rawType, "invalid_request_error");
    assert.match(neither.message, /charge or payment_intent/);
    for (
      const [params, param] of [
        [{ charge: chargeId, amount: 0 }, "amount"],
        [{ charge: chargeId, amount: 1.5 }, "amount"],
        [{ charge: chargeId, reason: "changed_mind" }, "reason"],
        [{ charge: chargeId, colour: "red" }, "colour"],
        [{ charge: "ch_missing" }, "charge"],
        [{ payment_intent: "pi_missing" }, "payment_intent"],
      ] as const
    ) {
      const error = await stripeRejection(
        stripe.refunds.create(params as unknown as Stripe.RefundCreateParams),
      );
      assert.equal(error.statusCode, 400, JSON.stringify(params));
      assert.equal(error.param, param, JSON.stringify(params));
    }

    const tooMuch = await stripeRejection(
      stripe.refunds.create({ charge: chargeId, amount: 4201 }, { idempotencyKey: "too-much" }),
    );
    assert.equal(tooMuch.type, "StripeInvalidRequestError");
    assert.equal(tooMuch.code, "amount_too_large");
    assert.equal(tooMuch.param, "amount");
    assert.equal(
      tooMuch.message,
      "Refund amount ($42.01) is greater than unrefunded amount on charge ($42.00)",
    );
    // The error began executing, so Stripe saved it under the key.
    const replayed = await stripeRejection(
      stripe.refunds.create({ charge: chargeId, amount: 4201 }, { idempotencyKey: "too-much" }),
    );
    assert.equal(replayed.headers?.["idempotent-replayed"], "true");

    await stripe.refunds.create({ payment_intent: intent.id, amount: 4000 });
    const left = await stripeRejection(stripe.refunds.create({ charge: chargeId, amount: 201 }));
    assert.equal(left.code, "amount_too_large");
    assert.match(left.message, /\(\$2\.00\)$/);
    await stripe.refunds.create({ charge: chargeId });
    const again = await stripeRejection(stripe.refunds.create({ payment_intent: intent.id }));
    assert.equal(again.code, "charge_already_refunded");
    assert.equal(again.rawType, "invalid_request_error");

    // A delayed payment that has not settled has nothing to refund yet.
    await control.setAsyncPaymentDelay(null);
    const { now } = await control.clock();
    const pending = await stripe.checkout.sessions.create(twoItemSessionParams(now, "order-d"));
    await control.pay(pending.id, { method: "delayed" });
    const unsettled = await stripe.checkout.sessions.retrieve(pending.id);
    const notYet = await stripeRejection(
      stripe.refunds.create({ payment_intent: String(unsettled.payment_intent) }),
    );
    assert.equal(notYet.param, "payment_intent");
    assert.equal((await control.counters()).created.refund, 2);
  });
});

Deno.test("a refund failing later gives its amount back, with refund.failed, refund.updated and charge.refund.updated", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { chargeId } = await paidIds(ctx);
    const refund = await stripe.refunds.create({ charge: chargeId });
    const failed = await control.failRefund(refund.id, "insufficient_funds");
    assert.equal(failed.status, "failed");
    assert.equal(failed.failure_reason, "insufficient_funds");
    assert.equal((await stripe.refunds.retrieve(refund.id)).status, "failed");
    const charge = await stripe.charges.retrieve(chargeId);
    assert.equal(charge.amount_refunded, 0);
    assert.equal(charge.refunded, false);

    const events = (await allEvents(stripe)).slice(-3);
    assert.deepEqual(events.map((e) => e.type), [
      "refund.failed",
      "refund.updated",
      "charge.refund.updated",
    ]);
    for (const event of events) {
      const object = event.data.object as Stripe.Refund;
      assert.equal(object.id, refund.id);
      assert.equal(object.status, "failed");
    }
    assert.deepEqual(events[1]?.data.previous_attributes, {
      status: "succeeded",
      failure_reason: null,
    });
    await assert.rejects(control.failRefund(refund.id), /only a pending or succeeded refund/);
    // The amount is refundable again.
    const second = await stripe.refunds.create({ charge: chargeId });
    assert.equal(second.amount, 4200);
  });
});

Deno.test("a Dashboard refund through the control API: Stripe's events without an API request", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { chargeId } = await paidIds(ctx);
    const refund = await control.refundCharge(chargeId, { amount: 700, reason: "duplicate" });
    assert.equal(refund.amount, 700);
    assert.equal(refund.reason, "duplicate");
    assert.deepEqual(await stripe.refunds.retrieve(refund.id), refund);
    const [created, refunded] = (await allEvents(stripe)).slice(-2);
    assert.equal(created?.type, "refund.created");
    assert.equal(created?.request?.idempotency_key, null);
    assert.equal(refunded?.type, "charge.refunded");
    assert.equal((refunded?.data.object as Stripe.Charge).amount_refunded, 700);
    await assert.rejects(control.refundCharge(chargeId, { amount: 3501 }), /amount_too_large/);
    await assert.rejects(control.refundCharge("ch_missing"), /No such charge/);
  });
});

Deno.test("disputes: opened with charge.dispute.created, block refunds, closed won or lost with charge.dispute.closed", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { session, intent, chargeId } = await paidIds(ctx);
    await stripe.refunds.create({ charge: chargeId, amount: 200 });
    const dispute = await control.openDispute(session.id, { reason: "product_not_received" });
    assert.match(dispute.id, /^dp_/);
    assert.equal(dispute.status, "needs_response");
    assert.equal(dispute.amount, 4000);
    assert.equal(dispute.charge, chargeId);
    assert.equal(dispute.payment_intent, intent.id);
    assert.equal(dispute.reason, "product_not_received");
    assert.equal((await stripe.charges.retrieve(chargeId)).disputed, true);
    assert.deepEqual(await stripe.disputes.retrieve(dispute.id), dispute);
    const [created] = (await allEvents(stripe)).slice(-1);
    assert.equal(created?.type, "charge.dispute.created");
    assert.deepEqual(created?.data.object, dispute);

    const blocked = await stripeRejection(stripe.refunds.create({ charge: chargeId }));
    assert.equal(blocked.code, "charge_disputed");
    await assert.rejects(control.openDispute(session.id), /already has a dispute/);

    const lost = await control.closeDispute(dispute.id, "lost");
    assert.equal(lost.status, "lost");
    const [closed] = (await allEvents(stripe)).slice(-1);
    assert.equal(closed?.type, "charge.dispute.closed");
    assert.equal((closed?.data.object as Stripe.Dispute).status, "lost");
    await assert.rejects(control.closeDispute(dispute.id, "won"), /already closed/);

    // A second paid session, disputed by charge id and won: refunds work again.
    const other = await paidIds(ctx, "order-2");
    const won = await control.openChargeDispute(other.chargeId, { amount: 1000 });
    assert.equal(won.reason, "fraudulent");
    await control.closeDispute(won.id, "won");
    assert.equal((await stripe.refunds.create({ charge: other.chargeId })).amount, 4200);
    const counters = await control.counters();
    assert.equal(counters.created.dispute, 2);
    assert.equal(counters.created.refund, 2);
  });
});

Deno.test("faults on POST /v1/refunds: before creates nothing; drop_after and saved_500 are replayed under the key", async () => {
  await withEmulator({}, async (ctx) => {
    const { stripe, control } = ctx;
    const { chargeId } = await paidIds(ctx);
    const route = "POST /v1/refunds";
    await control.addFault({ route, mode: "before", status: 503 });
    const before = await stripeRejection(
      stripe.refunds.create({ charge: chargeId, amount: 100 }, { idempotencyKey: "k-before" }),
    );
    assert.equal(before.statusCode, 503);
    assert.equal((await control.counters()).created.refund, 0);
    const ok = await stripe.refunds.create({ charge: chargeId, amount: 100 }, {
      idempotencyKey: "k-before",
    });
    assert.equal(ok.amount, 100);

    await control.addFault({ route, mode: "drop_after" });
    const dropped = await stripeRejection(
      stripe.refunds.create({ charge: chargeId, amount: 200 }, { idempotencyKey: "k-drop" }),
    );
    assert.equal(dropped.type, "StripeConnectionError");
    const replay = await stripe.refunds.create({ charge: chargeId, amount: 200 }, {
      idempotencyKey: "k-drop",
    });
    assert.equal(replay.amount, 200);
    assert.equal((await control.counters()).created.refund, 2);

    await control.addFault({ route, mode: "saved_500", effect: true });
    const saved = await stripeRejection(
      stripe.refunds.create({ charge: chargeId, amount: 300 }, { idempotencyKey: "k-500" }),
    );
    assert.equal(saved.statusCode, 500);
    const saved2 = await stripeRejection(
      stripe.refunds.create({ charge: chargeId, amount: 300 }, { idempotencyKey: "k-500" }),
    );
    assert.equal(saved2.statusCode, 500);

    const counters = await control.counters();
    assert.equal(counters.created.refund, 3);
    assert.equal(counters.faults_triggered, 3);
    assert.equal((await stripe.charges.retrieve(chargeId)).amount_refunded, 600);
  });
});

Deno.test("refund and dispute events are signed and delivered to the webhook endpoint", async () => {
  const secret = "whsec_refund_events";
  const receiver = startWebhookReceiver();
  try {
    await withEmulator({ webhookEndpoint: receiver.url, webhookSecret: secret }, async (ctx) => {
      const { stripe, control } = ctx;
      const { session, chargeId } = await paidIds(ctx);
      const refund = await stripe.refunds.create({ charge: chargeId, amount: 100 });
      await control.failRefund(refund.id);
      const dispute = await control.openDispute(session.id);
      await control.closeDispute(dispute.id, "won");
      await control.waitForDeliveries();
      const provider = Stripe.createSubtleCryptoProvider();
      const types: string[] = [];
      for (const { body, signature } of receiver.received) {
        const event = await Stripe.webhooks.constructEventAsync(
          body,
          signature ?? "",
          secret,
          undefined,
          provider,
        );
        types.push(event.type);
      }
      assert.deepEqual(types.filter((t) => !t.startsWith("checkout.")).sort(), [
        "charge.dispute.closed",
        "charge.dispute.created",
        "charge.refund.updated",
        "charge.refunded",
        "refund.created",
        "refund.failed",
        "refund.updated",
      ]);
    });
  } finally {
    await receiver.stop();
  }
});
