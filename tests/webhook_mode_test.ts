/**
 * Test and live never mix, and events of other (connected) accounts are not ours: both
 * are refused before any effect, stored as ignored with the reason, answered 200.
 */
import assert from "node:assert/strict";
import { startTestStack, type TestStack } from "./harness.ts";
import { emulator, INTEGRATION, stripeOf } from "./checkout_helpers.ts";
import {
  createOrderInSql,
  createProduct,
  deliverSigned,
  eventRows,
  orderState,
  outboxTopics,
  sessionObject,
  stripeEvent,
} from "./webhook_helpers.ts";
import { createWebhookHandler } from "../supabase/functions/_shared/webhook_handler.ts";
import {
  parseWebhookConfig,
  stripeKeyLivemode,
} from "../supabase/functions/_shared/webhook_config.ts";
import { createDb, rpcOf } from "../supabase/functions/_shared/db.ts";
import { signatureHeader } from "../local/stripe-emulator/signing.ts";

async function paidEvent(stack: TestStack, extra: Record<string, unknown>) {
  const product = await createProduct(stack.sql, 10);
  const { orderId, amount } = await createOrderInSql(stack.sql, product);
  const event = {
    ...stripeEvent(
      "checkout.session.completed",
      sessionObject(orderId, `cs_test_${crypto.randomUUID().replaceAll("-", "")}`, {
        amount_total: amount,
        payment_status: "paid",
        payment_intent: `pi_${crypto.randomUUID().replaceAll("-", "")}`,
      }),
    ),
    ...extra,
  };
  return { orderId, event, payload: JSON.stringify(event) };
}

async function assertRefused(
  stack: TestStack,
  orderId: string,
  eventId: string,
  reason: RegExp,
): Promise<void> {
  const order = await orderState(stack.sql, orderId);
  assert.equal(order.status, "pending", "no effect on the order");
  assert.equal(order.checkout_session_id, null, "the session was not recorded either");
  assert.deepEqual(await outboxTopics(stack.sql, orderId), []);
  const row = (await eventRows(stack.sql)).find((r) => r.stripe_event_id === eventId);
  assert.equal(row?.status, "ignored");
  assert.equal(row?.order_id, null);
  assert.match(row?.result ?? "", reason);
}

Deno.test("the mode of a Stripe key", () => {
  assert.equal(stripeKeyLivemode("sk_test_abc"), false);
  assert.equal(stripeKeyLivemode("rk_test_abc"), false);
  assert.equal(stripeKeyLivemode("sk_live_abc"), true);
  assert.equal(stripeKeyLivemode("rk_live_abc"), true);
});

Deno.test("events of the wrong mode or another account are ignored", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  await emulator(stack).setWebhooks({ auto: false });

  await t.step("a live event at a test-mode endpoint: 200 ignored, nothing applied", async () => {
    const { orderId, event, payload } = await paidEvent(stack, { livemode: true });
    const answer = await deliverSigned(stack, payload);
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { received: true, outcome: "ignored" });
    await assertRefused(stack, orderId, event.id, /livemode true.*test-mode key/);
    // Stripe's retry of it is a duplicate and still changes nothing.
    const again = await deliverSigned(stack, payload);
    assert.deepEqual(JSON.parse(again.body), { received: true, outcome: "duplicate" });
    assert.equal((await orderState(stack.sql, orderId)).status, "pending");
  });

  await t.step("an event of a connected account: 200 ignored, nothing applied", async () => {
    const { orderId, event, payload } = await paidEvent(stack, { account: "acct_1Other" });
    const answer = await deliverSigned(stack, payload);
    assert.equal(answer.status, 200, answer.body);
    assert.deepEqual(JSON.parse(answer.body), { received: true, outcome: "ignored" });
    await assertRefused(stack, orderId, event.id, /account acct_1Other/);
  });

  await t.step("a test event at a live-mode endpoint is ignored too", async () => {
    const secret = "whsec_liveModeEndpointSecret0000";
    const config = parseWebhookConfig({
      SUPABASE_URL: stack.apiUrl,
      SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey,
      STRIPE_SECRET_KEY: "sk_live_notarealkey",
      STRIPE_WEBHOOK_SECRET: secret,
    });
    const handler = createWebhookHandler({
      rpc: rpcOf(createDb(stack.apiUrl, stack.serviceRoleKey)),
      stripe: stripeOf(stack),
      config,
    });
    const { orderId, event, payload } = await paidEvent(stack, { livemode: false });
    const response = await handler(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: { "stripe-signature": await signatureHeader(secret, payload) },
        body: payload,
      }),
    );
    assert.equal(response.status, 200);
    assert.deepEqual(await response.json(), { received: true, outcome: "ignored" });
    await assertRefused(stack, orderId, event.id, /livemode false.*live-mode key/);
  });

  await t.step("the same event in the endpoint's own mode is applied", async () => {
    const { orderId, payload } = await paidEvent(stack, { livemode: false });
    const answer = await deliverSigned(stack, payload);
    assert.deepEqual(JSON.parse(answer.body), { received: true, outcome: "processed" });
    assert.equal((await orderState(stack.sql, orderId)).status, "paid");
  });
});
