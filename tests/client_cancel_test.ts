import assert from "node:assert/strict";
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import {
  cancelCheckout,
  CheckoutError,
  createCheckout,
  readStoredKey,
  supabaseTransport,
} from "../client/mod.js";
import { created, failure, harness, REQUEST, scriptedServer, type Step } from "./client_helpers.ts";

const cancelled = (id: string, status = "expired"): Step => ({
  status: 200,
  body: { order_id: `order-${id}`, status },
});

Deno.test("cancels the stored order with the key that made it, then retires the key", async () => {
  await using server = scriptedServer([created("one"), cancelled("one"), created("two")]);
  const { options, storage } = harness(server.functionsUrl);
  const checkout = await createCheckout(REQUEST, options);
  assert.equal(readStoredKey({ storage })?.order_id, "order-one");

  const result = await cancelCheckout(options);
  assert.deepEqual(result, {
    order_id: "order-one",
    status: "expired",
    idempotency_key: checkout.idempotency_key,
    attempts: 1,
  });
  assert.equal(server.seen[1]?.path, "/functions/v1/guest-checkout/cancel");
  assert.equal(server.keys()[1], checkout.idempotency_key);
  assert.deepEqual(server.seen[1]?.body, { order_id: "order-one" });

  // The released order can never be paid: the same cart is a new order under a new key.
  assert.notEqual(readStoredKey({ storage })?.key, checkout.idempotency_key);
  assert.equal(readStoredKey({ storage })?.order_id, undefined);
  const again = await createCheckout(REQUEST, options);
  assert.notEqual(again.idempotency_key, checkout.idempotency_key);
  assert.equal(again.order_id, "order-two");
});

Deno.test("without a stored order there is nothing to cancel and nothing is sent", async () => {
  await using server = scriptedServer([]);
  const { options } = harness(server.functionsUrl);
  assert.equal(await cancelCheckout(options), undefined);
  assert.equal(server.seen.length, 0);
});

Deno.test("retries a dropped cancel and a 503 with the same key", async () => {
  await using server = scriptedServer([
    created("one"),
    "drop",
    failure(503, "stripe_unavailable"),
    cancelled("one"),
  ]);
  const { options, sleeps } = harness(server.functionsUrl);
  const checkout = await createCheckout(REQUEST, options);
  const result = await cancelCheckout(options);
  assert.equal(result?.status, "expired");
  assert.equal(result?.attempts, 3);
  assert.equal(sleeps.length, 2);
  assert.deepEqual(server.keys().slice(1), Array(3).fill(checkout.idempotency_key));
});

Deno.test("a paid order refuses the cancel with order_paid and keeps its key", async () => {
  await using server = scriptedServer([created("one"), failure(409, "order_paid")]);
  const { options, storage, sleeps } = harness(server.functionsUrl);
  const checkout = await createCheckout(REQUEST, options);
  const error = await cancelCheckout(options).then(() => undefined, (e) => e);
  assert.ok(error instanceof CheckoutError, String(error));
  assert.equal(error.status, 409);
  assert.equal(error.code, "order_paid");
  assert.deepEqual(sleeps, [], "order_paid is final");
  assert.equal(readStoredKey({ storage })?.key, checkout.idempotency_key);
  assert.equal(readStoredKey({ storage })?.order_id, "order-one");
});

Deno.test("an order that ended unpaid before answers its status and retires the key", async () => {
  await using server = scriptedServer([created("one"), cancelled("one", "payment_failed")]);
  const { options, storage } = harness(server.functionsUrl);
  const checkout = await createCheckout(REQUEST, options);
  assert.equal((await cancelCheckout(options))?.status, "payment_failed");
  assert.notEqual(readStoredKey({ storage })?.key, checkout.idempotency_key);
});

Deno.test("an enhanced checkout is cancelled on enhanced-checkout with the user's token", async () => {
  await using server = scriptedServer([created("one"), cancelled("one")]);
  const { options } = harness(server.functionsUrl);
  const { email: _email, ...body } = REQUEST;
  await createCheckout(body, { ...options, accessToken: "jwt" });
  await cancelCheckout({ ...options, accessToken: "jwt" });
  assert.equal(server.seen[1]?.path, "/functions/v1/enhanced-checkout/cancel");
  assert.equal(server.seen[1]?.headers.get("authorization"), "Bearer jwt");
});

Deno.test("a 2xx without an order is an invalid_response, not a cancel", async () => {
  await using server = scriptedServer([created("one"), { status: 200, body: { ok: true } }]);
  const { options } = harness(server.functionsUrl);
  await createCheckout(REQUEST, options);
  const error = await cancelCheckout(options).then(() => undefined, (e) => e);
  assert.ok(error instanceof CheckoutError, String(error));
  assert.equal(error.code, "invalid_response");
});

Deno.test("cancels through supabase.functions.invoke on the function's cancel route", async () => {
  await using server = scriptedServer([created("one"), cancelled("one")]);
  const supabase = createClient(server.url, "anon-key", {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { options } = harness(server.functionsUrl);
  const viaSupabase = { ...options, transport: supabaseTransport(supabase) };
  const checkout = await createCheckout(REQUEST, viaSupabase);
  const result = await cancelCheckout(viaSupabase);
  assert.equal(result?.order_id, "order-one");
  assert.equal(server.seen[1]?.path, "/functions/v1/guest-checkout/cancel");
  assert.equal(server.keys()[1], checkout.idempotency_key);
});
