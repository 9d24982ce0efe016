import assert from "node:assert/strict";
import {
  callStripe,
  classifyStripeError,
  LookupFailed,
} from "../supabase/functions/_shared/checkout-utils.ts";
import { Stripe } from "../supabase/functions/_shared/stripe.ts";

function stripeError(
  status: number,
  type: "api_error" | "idempotency_error" | "rate_limit_error" | "invalid_request_error",
  headers: Record<string, string> = {},
) {
  return Stripe.errors.StripeError.generate({
    type,
    message: `status ${status}`,
    statusCode: status,
    headers,
    code: "some_code",
    param: "expires_at",
  });
}

Deno.test("network errors, 409, 429 and 5xx are retryable with the same key", () => {
  const connection = new Stripe.errors.StripeConnectionError({ message: "socket hang up" });
  for (
    const error of [
      connection,
      stripeError(409, "idempotency_error"),
      stripeError(429, "rate_limit_error"),
      stripeError(500, "api_error"),
      stripeError(503, "api_error"),
    ]
  ) {
    const failure = classifyStripeError(error);
    assert.equal(failure.kind, "retryable", error.message);
    assert.equal(failure.rekey, false, error.message);
  }
});

Deno.test("a replayed 5xx is retryable only under a new key", () => {
  const failure = classifyStripeError(
    stripeError(500, "api_error", { "idempotent-replayed": "true" }),
  );
  assert.equal(failure.kind, "retryable");
  assert.equal(failure.rekey, true);
});

Deno.test("other 4xx are terminal and keep Stripe's code and param", () => {
  for (const status of [400, 401, 402, 403, 404]) {
    const failure = classifyStripeError(stripeError(status, "invalid_request_error"));
    assert.equal(failure.kind, "terminal", String(status));
    assert.equal(failure.code, "some_code");
    assert.equal(failure.param, "expires_at");
    assert.equal(failure.status, status);
  }
});

Deno.test("callStripe refuses a malformed key before anything is sent", async () => {
  let called = false;
  await assert.rejects(
    () =>
      callStripe("not-a-key", () => {
        called = true;
        return Promise.resolve(1);
      }),
    /malformed key/,
  );
  assert.equal(called, false);
});

Deno.test("callStripe passes the stored key and reports failures as values", async () => {
  const key = "checkout:create:order_1:3f2504e0-4f89-41d3-9a0c-0305e82c3301";
  const seen: string[] = [];
  const ok = await callStripe(key, (o) => {
    seen.push(o.idempotencyKey);
    return Promise.resolve("cs_1");
  });
  assert.deepEqual(ok, { ok: true, value: "cs_1" });
  const failed = await callStripe(
    key,
    () => Promise.reject(stripeError(400, "invalid_request_error")),
  );
  assert.equal(failed.ok, false);
  assert.deepEqual(seen, [key]);
});

Deno.test("a failed look-up is retryable under the same key, whatever Stripe answered", () => {
  for (const statusCode of [400, 404, 500]) {
    const failure = classifyStripeError(
      new LookupFailed({ statusCode, headers: { "idempotent-replayed": "true" }, message: "x" }),
    );
    assert.equal(failure.kind, "retryable");
    assert.equal(failure.rekey, false);
    assert.equal(failure.status, statusCode);
  }
});
