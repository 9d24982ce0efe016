/**
 * Stripe wants a session's expires_at at least 30 minutes (and at most 24 h) after it
 * creates the session, by its own clock. The checkout sends now + TTL + a safety margin,
 * so a request that reaches Stripe late (or a Stripe clock slightly ahead) still passes,
 * and the config refuses a TTL that leaves no margin at either end.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { callCheckout, emulator, INTEGRATION } from "./checkout_helpers.ts";

Deno.test(
  "a checkout that reaches Stripe 50 s late still gets its 30-minute session",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    // Stripe's clock 50 s ahead of ours: the same as our call arriving 50 s after we
    // computed expires_at (a slow network, a retry), beyond Stripe's few seconds of grace.
    await emulator(stack).advanceClock(50);
    const sentAt = Math.floor(Date.now() / 1000);
    const answer = await callCheckout(stack, "guest-checkout", {});
    assert.equal(answer.status, 201, answer.text);
    const expiresAt = Date.parse(String(answer.json.expires_at)) / 1000;
    assert.ok(
      expiresAt >= sentAt + 30 * 60 + 60 - 1,
      `expires_at ${expiresAt - sentAt} s after the request`,
    );
    const [order] = await stack.sql<{ seconds: number }[]>`
      select extract(epoch from checkout_expires_at - created_at)::int as seconds
      from public.orders where id = ${String(answer.json.order_id)}`;
    assert.ok((order?.seconds ?? 0) >= 30 * 60 + 60 - 1, `order expiry ${order?.seconds} s`);
  },
);
