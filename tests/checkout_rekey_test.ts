/**
 * A checkout whose session Stripe made under a key it then saved a 500 for (the emulator's
 * `saved_500` with `effect: true`; real Stripe may answer 500 for a request that had begun
 * executing). That key replays the 500 forever, so the runner mints a new one; the retry
 * under it must find the session Stripe already made for the order and answer with it,
 * not make a second payable session. The shopper then pays that session, once.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  BEANS,
  callCheckout,
  emulator,
  guestBody,
  INTEGRATION,
  stripeOf,
  waitUntil,
} from "./checkout_helpers.ts";
import { orderState, submitHostedPage } from "./webhook_helpers.ts";

Deno.test(
  "a session Stripe made under a key it then saved a 500 for is answered, not made again",
  INTEGRATION,
  async () => {
    // No SDK retries: each of our calls is one call to Stripe.
    await using stack = await startTestStack({
      functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0" },
    });
    const control = emulator(stack);
    const stripe = stripeOf(stack);
    const before = (await control.counters()).created.checkout_session;
    await control.addFault({
      route: "POST /v1/checkout/sessions",
      mode: "saved_500",
      effect: true,
      times: 1,
    });
    const key = crypto.randomUUID();
    const body = guestBody({ items: [{ product_id: BEANS, quantity: 1 }] });

    // 1: Stripe makes the session and answers 500; 2: the same key replays that 500 (the
    // operation is re-keyed); 3: under the new key, which must find the first session.
    const answers = [];
    for (let i = 0; i < 4; i++) {
      const answer = await callCheckout(stack, "guest-checkout", { key, body });
      answers.push(answer);
      if (answer.status !== 503) break;
      assert.equal((answer.json.error as { code: string }).code, "stripe_unavailable");
    }
    await control.clearFaults();
    const last = answers.at(-1);
    assert.equal(last?.status, 201, last?.text);
    assert.deepEqual(answers.map((a) => a.status), [503, 503, 201]);
    assert.equal(
      (await control.counters()).created.checkout_session,
      before + 1,
      "one Stripe session for one checkout",
    );
    const orderId = String(last.json.order_id);
    const sessions = (await stripe.checkout.sessions.list({ limit: 100 })).data
      .filter((s) => s.metadata?.order_id === orderId);
    assert.deepEqual(sessions.map((s) => [s.id, s.status]), [[
      last.json.checkout_session_id,
      "open",
    ]]);

    // The session made under the superseded key is the order's own: paying it pays the order.
    await submitHostedPage(String(last.json.checkout_url), "pay");
    await control.waitForDeliveries();
    await waitUntil(
      "the order is paid",
      async () => (await orderState(stack.sql, orderId)).status === "paid",
    );
    const order = await orderState(stack.sql, orderId);
    assert.equal(order.checkout_session_id, last.json.checkout_session_id);
    assert.equal(order.needs_review, false, order.review_reason ?? "");

    const replay = await callCheckout(stack, "guest-checkout", { key, body });
    assert.equal(replay.status, 200);
    assert.equal(replay.headers.get("idempotent-replayed"), "true");
    assert.equal(replay.text, last.text);
  },
);
