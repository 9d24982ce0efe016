/**
 * Webhook bodies over 1 MiB are refused with 413 before any signature work, and nothing
 * is written — whether Content-Length says so or the streamed body turns out too long.
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
  sessionObject,
  stripeEvent,
} from "./webhook_helpers.ts";
import {
  createWebhookHandler,
  MAX_WEBHOOK_BODY_BYTES,
} from "../supabase/functions/_shared/webhook_handler.ts";
import { createDb, rpcOf } from "../supabase/functions/_shared/db.ts";

const MIB = 1024 * 1024;

/** A real paid event for a real order, padded with spaces to exactly `size` bytes. */
async function paddedEvent(stack: TestStack, size: number) {
  const product = await createProduct(stack.sql, 10);
  const { orderId, amount } = await createOrderInSql(stack.sql, product);
  const json = JSON.stringify(stripeEvent(
    "checkout.session.completed",
    sessionObject(orderId, `cs_test_${crypto.randomUUID().replaceAll("-", "")}`, {
      amount_total: amount,
      payment_status: "paid",
    }),
  ));
  return { orderId, payload: json + " ".repeat(size - json.length) };
}

function errorCode(body: string): string | undefined {
  return (JSON.parse(body) as { error?: { code?: string } }).error?.code;
}

Deno.test("webhook bodies over 1 MiB", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  await emulator(stack).setWebhooks({ auto: false });
  assert.equal(MAX_WEBHOOK_BODY_BYTES, MIB);

  await t.step("1 MiB + 1 byte, correctly signed, streamed: 413, nothing written", async () => {
    const { orderId, payload } = await paddedEvent(stack, MIB + 1);
    const answer = await deliverSigned(stack, payload);
    assert.equal(answer.status, 413, answer.body);
    assert.equal(errorCode(answer.body), "payload_too_large");
    assert.equal((await eventRows(stack.sql)).length, 0);
    assert.equal((await orderState(stack.sql, orderId)).status, "pending");
  });

  await t.step("an oversized body is refused before its signature is looked at", async () => {
    const { payload } = await paddedEvent(stack, 2 * MIB);
    const answer = await deliverSigned(stack, payload, { signature: "t=1,v1=deadbeef" });
    assert.equal(answer.status, 413, answer.body);
    assert.equal((await eventRows(stack.sql)).length, 0);
  });

  await t.step("a Content-Length over the limit is refused without reading the body", async () => {
    const handler = createWebhookHandler({
      rpc: rpcOf(createDb(stack.apiUrl, stack.serviceRoleKey)),
      stripe: stripeOf(stack),
      config: { STRIPE_WEBHOOK_SECRET: [stack.webhookSecret], STRIPE_SECRET_KEY: "sk_test_x" },
    });
    let pulled = 0;
    const body = new ReadableStream<Uint8Array>({
      // Finite, so a handler that reads it anyway fails the assertions rather than hangs.
      pull(controller) {
        pulled++;
        if (pulled * 1024 > 2 * MIB) controller.close();
        else controller.enqueue(new Uint8Array(1024));
      },
    });
    const response = await handler(
      new Request("http://localhost/stripe-webhook", {
        method: "POST",
        headers: {
          "content-length": String(MIB + 1),
          "stripe-signature": "t=1,v1=deadbeef",
        },
        body,
      }),
    );
    assert.equal(response.status, 413);
    assert.equal(errorCode(await response.text()), "payload_too_large");
    assert.ok(pulled <= 1, `read ${pulled} chunks of a body it should not read`);
    assert.equal((await eventRows(stack.sql)).length, 0);
  });

  await t.step("exactly 1 MiB is accepted and applied", async () => {
    const { orderId, payload } = await paddedEvent(stack, MIB);
    assert.equal(new TextEncoder().encode(payload).length, MIB);
    const answer = await deliverSigned(stack, payload);
    assert.equal(answer.status, 200, answer.body);
    assert.equal((await orderState(stack.sql, orderId)).status, "paid");
  });
});

Deno.test(
  "400 concurrent bodies just under 1 MiB to a fresh webhook function: all 400, it lives",
  INTEGRATION,
  async () => {
    // The function holds each body while it checks the signature: 400 at once is about 1 GB
    // passing through one process, which a capped V8 heap did not survive (503s, a restart).
    await using stack = await startTestStack();
    const pid = stack.functionProcess("stripe-webhook").pid;
    const payload = JSON.stringify({ pad: "x".repeat(MIB - 100) });
    const answers = await Promise.all(Array.from({ length: 400 }, async () => {
      const response = await fetch(`${stack.functionsUrl}/stripe-webhook`, {
        method: "POST",
        headers: { "content-type": "application/json", "stripe-signature": "t=1,v1=abc" },
        body: payload,
      });
      return `${response.status} ${errorCode(await response.text())}`;
    }));
    const counts: Record<string, number> = {};
    for (const answer of answers) counts[answer] = (counts[answer] ?? 0) + 1;
    assert.deepEqual(counts, { "400 invalid_signature": 400 });
    assert.equal(stack.functionProcess("stripe-webhook").pid, pid, "not restarted");
    assert.equal((await eventRows(stack.sql)).length, 0);
  },
);
