import assert from "node:assert/strict";
import { createClient } from "npm:@supabase/supabase-js@2.119.1";
import {
  CheckoutError,
  createCheckout,
  fetchTransport,
  readStoredKey,
  supabaseTransport,
} from "../client/mod.js";
import {
  A,
  B,
  created,
  failure,
  harness,
  replayed,
  REQUEST,
  scriptedServer,
} from "./client_helpers.ts";

Deno.test("sends the cart's stored key and the sorted body, and returns the new session", async () => {
  await using server = scriptedServer([created("one")]);
  const { options, storage } = harness(server.functionsUrl);
  const result = await createCheckout(REQUEST, options);
  assert.equal(result.checkout_url, "http://stripe/c/pay/cs_test_one");
  assert.equal(result.replayed, false);
  assert.equal(result.attempts, 1);
  assert.equal(server.seen[0]?.path, "/functions/v1/guest-checkout");
  assert.equal(server.keys()[0], readStoredKey({ storage })?.key);
  assert.equal(server.keys()[0], result.idempotency_key);
  assert.deepEqual(
    (server.seen[0]?.body as { items: unknown }).items,
    [{ product_id: A, quantity: 2 }, { product_id: B, quantity: 1 }],
  );
});

Deno.test("retries a dropped connection with the same key and gets the replay", async () => {
  await using server = scriptedServer(["drop", replayed("one")]);
  const { options, sleeps } = harness(server.functionsUrl);
  const result = await createCheckout(REQUEST, options);
  assert.equal(server.seen.length, 2);
  assert.equal(server.keys()[0], server.keys()[1]);
  assert.equal(result.replayed, true);
  assert.equal(result.attempts, 2);
  assert.equal(sleeps.length, 1);
});

Deno.test("honours Retry-After on 409 idempotency_key_in_use, retrying with the same key", async () => {
  await using server = scriptedServer([
    failure(409, "idempotency_key_in_use", { "Retry-After": "2" }),
    replayed("one"),
  ]);
  const { options, sleeps } = harness(server.functionsUrl);
  const result = await createCheckout(REQUEST, options);
  assert.equal(result.order_id, "order-one");
  assert.equal(server.keys()[0], server.keys()[1]);
  assert.equal(sleeps.length, 1);
  assert.ok((sleeps[0] ?? 0) >= 2_000, `waited ${sleeps[0]} ms, Retry-After said 2 s`);
});

Deno.test("retries 503 with exponential backoff and jitter, each time with the same key", async () => {
  await using server = scriptedServer([
    failure(503, "stripe_unavailable"),
    failure(503, "stripe_unavailable"),
    failure(503, "stripe_unavailable"),
    created("one"),
  ]);
  const { options, sleeps } = harness(server.functionsUrl);
  await createCheckout(REQUEST, options);
  assert.equal(new Set(server.keys()).size, 1);
  // random() = 0.5 → three quarters of 250, 500, 1000 ms.
  assert.deepEqual(sleeps, [188, 375, 750]);
});

Deno.test("gives up after maxAttempts, keeping the key for a later retry", async () => {
  await using server = scriptedServer(
    Array.from({ length: 4 }, () => failure(503, "stripe_unavailable", { "Retry-After": "1" })),
  );
  const { options, storage, sleeps } = harness(server.functionsUrl);
  const error = await createCheckout(REQUEST, { ...options, retry: { maxAttempts: 3 } })
    .then(() => undefined, (e: unknown) => e);
  assert.ok(error instanceof CheckoutError, String(error));
  assert.equal(error.code, "stripe_unavailable");
  assert.equal(error.status, 503);
  assert.equal(error.attempts, 3);
  assert.equal(server.seen.length, 3);
  assert.equal(sleeps.length, 2);
  assert.equal(readStoredKey({ storage })?.key, error.idempotencyKey);
  assert.equal(server.keys()[0], error.idempotencyKey);
});

Deno.test("never retries other 4xx or a stored 502", async () => {
  const cases: [number, string][] = [
    [400, "invalid_request"],
    [400, "redirect_not_allowed"],
    [401, "unauthorized"],
    [409, "insufficient_stock"],
    [422, "idempotency_key_reused"],
    [422, "product_unavailable"],
    [502, "stripe_rejected"],
    [500, "internal_error"],
  ];
  for (const [status, code] of cases) {
    await using server = scriptedServer([failure(status, code), created("never")]);
    const { options, sleeps } = harness(server.functionsUrl);
    const error = await createCheckout(REQUEST, options).then(() => undefined, (e) => e);
    assert.ok(error instanceof CheckoutError, `${status} ${code}: ${error}`);
    assert.equal(error.code, code);
    assert.equal(error.status, status);
    assert.equal(server.seen.length, 1, `${status} ${code} was retried`);
    assert.deepEqual(sleeps, []);
  }
});

Deno.test("a Retry-After longer than the client's limit is cut to it, not given up on", async () => {
  await using server = scriptedServer([
    failure(409, "idempotency_key_in_use", { "Retry-After": "60" }),
    replayed("one"),
  ]);
  const { options, sleeps } = harness(server.functionsUrl);
  const result = await createCheckout(REQUEST, { ...options, retry: { maxRetryAfterMs: 5_000 } });
  assert.equal(result.replayed, true);
  assert.equal(server.keys()[1], server.keys()[0]);
  assert.equal(sleeps.length, 1);
  // The cut value is still a floor: 5 s plus at most one base step of jitter.
  assert.ok((sleeps[0] ?? 0) >= 5_000 && (sleeps[0] ?? 0) <= 5_250, String(sleeps[0]));
});

Deno.test("a replayed session that has expired gets a fresh key and a new checkout", async () => {
  await using server = scriptedServer([
    replayed("old", "2025-12-31T23:30:00Z"),
    created("new"),
  ]);
  const { options, storage } = harness(server.functionsUrl);
  const result = await createCheckout(REQUEST, options);
  const [first, second] = server.keys();
  assert.ok(first && second);
  assert.notEqual(second, first);
  assert.equal(result.checkout_session_id, "cs_test_new");
  assert.equal(result.idempotency_key, second);
  assert.equal(result.attempts, 2);
  assert.equal(readStoredKey({ storage })?.key, second);
});

Deno.test("a replay expiring within the margin counts as expired; a later one does not", async () => {
  await using server = scriptedServer([
    replayed("soon", "2026-01-01T00:00:30Z"),
    created("new"),
    replayed("new"),
  ]);
  const { options } = harness(server.functionsUrl);
  const renewed = await createCheckout(REQUEST, options);
  assert.equal(renewed.checkout_session_id, "cs_test_new");
  const kept = await createCheckout(REQUEST, options);
  assert.equal(kept.checkout_session_id, "cs_test_new");
  assert.equal(kept.replayed, true);
  assert.equal(server.keys()[2], server.keys()[1]);
});

Deno.test("a new session is not renewed even if our clock says it expired (skew)", async () => {
  await using server = scriptedServer([created("one", "2025-12-31T00:00:00Z")]);
  const { options } = harness(server.functionsUrl);
  const result = await createCheckout(REQUEST, options);
  assert.equal(result.checkout_session_id, "cs_test_one");
  assert.equal(server.seen.length, 1);
});

Deno.test("the same cart reuses its key; a changed cart sends a new one", async () => {
  await using server = scriptedServer([created("one"), replayed("one"), created("two")]);
  const { options } = harness(server.functionsUrl);
  await createCheckout(REQUEST, options);
  await createCheckout({ ...REQUEST, items: [...REQUEST.items].reverse() }, options);
  await createCheckout({ ...REQUEST, items: [{ product_id: A, quantity: 3 }] }, options);
  const [one, again, changed] = server.keys();
  assert.equal(again, one);
  assert.notEqual(changed, one);
});

Deno.test("two clicks at once send one key", async () => {
  await using server = scriptedServer([
    created("one"),
    failure(409, "idempotency_key_in_use", { "Retry-After": "0" }),
    replayed("one"),
  ]);
  const { options } = harness(server.functionsUrl);
  const [a, b] = await Promise.all([
    createCheckout(REQUEST, options),
    createCheckout(REQUEST, options),
  ]);
  assert.equal(new Set(server.keys()).size, 1);
  assert.equal(a.checkout_session_id, b.checkout_session_id);
});

Deno.test("enhanced checkout sends the user's token to enhanced-checkout", async () => {
  await using server = scriptedServer([created("one")]);
  const { options } = harness(server.functionsUrl);
  const { email: _email, ...body } = REQUEST;
  await createCheckout({ ...body, promotion_code: "SAVE10" }, { ...options, accessToken: "jwt" });
  assert.equal(server.seen[0]?.path, "/functions/v1/enhanced-checkout");
  assert.equal(server.seen[0]?.headers.get("authorization"), "Bearer jwt");
  assert.equal((server.seen[0]?.body as { promotion_code: string }).promotion_code, "SAVE10");
});

Deno.test("the user's token replaces the transport's anon Authorization, not joins it", async () => {
  await using server = scriptedServer([failure(401, "unauthorized"), created("one")]);
  const { options } = harness(server.functionsUrl);
  const transport = fetchTransport({
    functionsUrl: server.functionsUrl,
    headers: { apikey: "anon", authorization: "Bearer anon" },
  });
  const { email: _email, ...body } = REQUEST;
  await createCheckout(body, { ...options, transport, accessToken: "jwt" })
    .catch(() => undefined);
  assert.equal(server.seen[0]?.headers.get("authorization"), "Bearer jwt");
  assert.equal(server.seen[0]?.headers.get("apikey"), "anon");
});

Deno.test("works through supabase.functions.invoke: retries, replays and errors", async () => {
  await using server = scriptedServer([
    "drop",
    failure(503, "stripe_unavailable", { "Retry-After": "0" }),
    replayed("one"),
    failure(409, "insufficient_stock"),
  ]);
  const supabase = createClient(server.url, "anon-key", {
    auth: { persistSession: false, autoRefreshToken: false },
  });
  const { options } = harness(server.functionsUrl);
  const viaSupabase = { ...options, transport: supabaseTransport(supabase) };
  const result = await createCheckout(REQUEST, viaSupabase);
  assert.equal(result.replayed, true);
  assert.equal(result.attempts, 3);
  assert.equal(new Set(server.keys()).size, 1);
  assert.equal(server.seen[0]?.path, "/functions/v1/guest-checkout");
  assert.equal(server.seen[0]?.headers.get("apikey"), "anon-key");

  const error = await createCheckout({ ...REQUEST, email: "bo@example.com" }, viaSupabase)
    .then(() => undefined, (e) => e);
  assert.ok(error instanceof CheckoutError, String(error));
  assert.equal(error.code, "insufficient_stock");
  assert.equal(server.seen.length, 4);
});

Deno.test("a programming error in the transport is not retried as a network error", async () => {
  const { options, sleeps } = harness("http://unused");
  const broken = () => Promise.reject(new RangeError("bug"));
  await assert.rejects(createCheckout(REQUEST, { ...options, transport: broken }), RangeError);
  assert.deepEqual(sleeps, []);
});
