/**
 * checkout-status end to end: the landing page confirms with Stripe through the webhook's
 * own transition, so no payment waits for a webhook delivery — and racing the webhook
 * pays each order once, with one order.paid message.
 */
import assert from "node:assert/strict";
import { BEANS, emulator, INTEGRATION, SHOP, waitUntil } from "./checkout_helpers.ts";
import type { TestStack } from "./harness.ts";
import {
  emulatorEvents,
  eventsOfSession,
  guestCheckout,
  guestCheckouts,
  orderState,
  outboxTopics,
  requireEvent,
  sessionEvents,
  startManualWebhookStack,
} from "./webhook_helpers.ts";
import { outboxRows } from "./outbox_helpers.ts";

async function status(
  stack: TestStack,
  sessionId: string,
  init: RequestInit = {},
): Promise<{ status: number; body: Record<string, unknown>; headers: Headers }> {
  const response = await fetch(
    `${stack.functionsUrl}/checkout-status?session_id=${encodeURIComponent(sessionId)}`,
    init,
  );
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : {}, headers: response.headers };
}

const RETRIEVE = "GET /v1/checkout/sessions/:id";

Deno.test("checkout-status answers, refuses and does CORS", INTEGRATION, async (t) => {
  await using stack = await startManualWebhookStack();
  const checkout = await guestCheckout(stack, [{ product_id: BEANS, quantity: 1 }]);

  await t.step("a pending order, its customer-facing fields only", async () => {
    const answer = await status(stack, checkout.checkout_session_id);
    assert.equal(answer.status, 200);
    assert.deepEqual(answer.body, {
      order_id: checkout.order_id,
      status: "pending",
      amount_total: checkout.amount_total,
      currency: checkout.currency,
      checkout_session_id: checkout.checkout_session_id,
    });
    assert.equal(answer.headers.get("cache-control"), "no-store");
  });

  await t.step("bad and unknown session ids, other methods", async () => {
    for (const bad of ["", "pi_123", "cs_" + "x".repeat(251), "cs_test_<script>"]) {
      const answer = await status(stack, bad);
      assert.equal(answer.status, 400, bad);
      assert.equal((answer.body.error as { code: string }).code, "invalid_session_id");
    }
    const unknown = await status(stack, "cs_test_nobody_has_this");
    assert.equal(unknown.status, 404);
    assert.equal((unknown.body.error as { code: string }).code, "order_not_found");
    const post = await status(stack, checkout.checkout_session_id, { method: "POST" });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, OPTIONS");
  });

  await t.step("CORS for the allowed origins only", async () => {
    const allowed = await status(stack, checkout.checkout_session_id, {
      headers: { origin: SHOP },
    });
    assert.equal(allowed.headers.get("access-control-allow-origin"), SHOP);
    const other = await status(stack, checkout.checkout_session_id, {
      headers: { origin: "https://evil.example" },
    });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get("access-control-allow-origin"), null);
    const preflight = await status(stack, checkout.checkout_session_id, {
      method: "OPTIONS",
      headers: { origin: SHOP, "access-control-request-method": "GET" },
    });
    assert.equal(preflight.status, 204);
    assert.equal(preflight.headers.get("access-control-allow-methods"), "GET, OPTIONS");
  });
});

Deno.test(
  "with webhooks stopped, the landing page alone pays the order; the late webhook changes nothing",
  INTEGRATION,
  async () => {
    await using stack = await startManualWebhookStack();
    const control = emulator(stack);
    const checkout = await guestCheckout(stack, [{ product_id: BEANS, quantity: 2 }]);
    await control.pay(checkout.checkout_session_id);
    const before = (await control.counters()).calls[RETRIEVE] ?? 0;

    // Twenty polls at once: one look-up at Stripe, the rest answered from the database.
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => status(stack, checkout.checkout_session_id)),
    );
    assert.deepEqual(new Set(answers.map((a) => a.status)), new Set([200]));
    assert.equal((await control.counters()).calls[RETRIEVE] ?? 0, before + 1);
    assert.ok(answers.some((a) => a.body.status === "paid"));
    assert.equal((await status(stack, checkout.checkout_session_id)).body.status, "paid");
    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(order.status, "paid");
    assert.match(order.payment_intent_id ?? "", /^pi_/);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
    // A final order is answered without Stripe.
    assert.equal((await control.counters()).calls[RETRIEVE] ?? 0, before + 1);

    const completed = requireEvent(
      await sessionEvents(stack, checkout.checkout_session_id),
      "checkout.session.completed",
    );
    const { statuses } = await control.deliverEvent(completed.id);
    assert.deepEqual(statuses, [200]);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
  },
);

Deno.test(
  "landing page and webhook race on 50 sessions: each paid once, one order.paid each, delivered once",
  INTEGRATION,
  async () => {
    await using stack = await startManualWebhookStack();
    const control = emulator(stack);
    await stack.sql`update public.products set stock = 1000 where id = ${BEANS}`;
    const checkouts = await guestCheckouts(stack, 50, 10);
    await Promise.all(checkouts.map((c) => control.pay(c.checkout_session_id)));
    const events = await emulatorEvents(stack);

    const results = await Promise.all(checkouts.flatMap((c) => {
      const completed = requireEvent(
        eventsOfSession(events, c.checkout_session_id),
        "checkout.session.completed",
      );
      return [
        status(stack, c.checkout_session_id).then((a) => a.status),
        control.deliverEvent(completed.id, { times: 2, concurrent: true }).then((d) =>
          Math.max(...d.statuses)
        ),
        status(stack, c.checkout_session_id).then((a) => a.status),
      ];
    }));
    // A webhook delivery may meet its concurrent twin (409, Stripe retries); nothing fails.
    assert.deepEqual([...new Set(results)].filter((s) => s !== 200 && s !== 409), []);

    for (const c of checkouts) {
      assert.equal((await orderState(stack.sql, c.order_id)).status, "paid", c.order_id);
      assert.deepEqual(await outboxTopics(stack.sql, c.order_id), ["order.paid"], c.order_id);
    }
    // Each processed effect kicked outbox-dispatch: every message reaches the sink once.
    await waitUntil(
      "all 50 messages delivered",
      async () => (await outboxRows(stack)).every((r) => r.status === "done"),
      20_000,
    );
    const sunk = stack.outboxSink.messages();
    assert.equal(sunk.length, 50);
    assert.deepEqual(
      new Set(sunk.map((m) => m.order_id)),
      new Set(checkouts.map((c) => c.order_id)),
    );
    assert.ok(sunk.every((m) => m.type === "order.paid" && m.deliveries === 1));
  },
);
