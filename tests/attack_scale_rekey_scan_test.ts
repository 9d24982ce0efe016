/**
 * An attack at scale's late retry: a checkout whose session Stripe made under a key it then
 * saved a 500 for, retried only after the shop made more than 1,000 other sessions. The
 * look-up for that session scanned the newest 1,000 sessions created since the operation
 * began and missed it, so the retry made a second open session for the order. The look-up
 * now reads only the open sessions created between the operation's first claim and its last
 * re-key (5 minutes either side for clocks), whatever came later.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  callCheckout,
  emulator,
  INTEGRATION,
  rekeyedCheckout,
  SHOP,
  stripeOf,
} from "./checkout_helpers.ts";
import { inBatches } from "./webhook_helpers.ts";

const OTHER_SESSIONS = 1_001;

Deno.test(
  "a re-keyed checkout retried after 1,001 later sessions finds its own, and makes no second",
  INTEGRATION,
  async () => {
    // Sessions live an hour, so the order's stays valid at Stripe ten minutes on.
    await using stack = await startTestStack({
      functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0", CHECKOUT_SESSION_TTL_MINUTES: "60" },
    });
    const control = emulator(stack);
    const stripe = stripeOf(stack);
    // 1: Stripe makes the session and saves a 500; 2: the key replays it (re-keyed).
    const { key, body } = await rekeyedCheckout(stack);
    const [order] = await stack.sql<{ id: string }[]>`
      select id from public.orders where idempotency_key = ${key}`;
    assert.ok(order);
    const first = (await stripe.checkout.sessions.list({ limit: 100 })).data
      .filter((s) => s.metadata?.order_id === order.id);
    assert.equal(first.length, 1, "Stripe made the session under the first key");

    // The shopper comes back ten minutes later; the shop made 1,001 checkouts meanwhile.
    await control.advanceClock(600);
    await inBatches(
      Array.from({ length: OTHER_SESSIONS }, (_, i) => i),
      32,
      (i) =>
        stripe.checkout.sessions.create({
          mode: "payment",
          line_items: [{
            price_data: { currency: "usd", unit_amount: 100, product_data: { name: `other ${i}` } },
            quantity: 1,
          }],
          success_url: `${SHOP}/thanks`,
          expires_at: Math.floor(Date.now() / 1000) + 600 + 3600,
        }),
    );

    const answer = await callCheckout(stack, "guest-checkout", { key, body });
    assert.equal(answer.status, 201, answer.text);
    assert.equal(answer.json.checkout_session_id, first[0]?.id, "the session Stripe made first");
    const mine = [];
    for await (const s of stripe.checkout.sessions.list({ status: "open", limit: 100 })) {
      if (s.metadata?.order_id === order.id) mine.push(s.id);
    }
    assert.deepEqual(mine, [first[0]?.id], "one open session for the order");
  },
);
