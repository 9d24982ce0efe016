import assert from "node:assert/strict";
import { createRefundHandler } from "../supabase/functions/_shared/refund_flow.ts";
import { createSecretKeyCheck } from "../supabase/functions/_shared/auth.ts";
import { createStripeClient } from "../supabase/functions/_shared/stripe.ts";
import type { Rpc } from "../supabase/functions/_shared/db.ts";

/**
 * The checks refund-order makes before it claims the client key, run in-process with a
 * `new Request`: nothing before the claim may reach the database or Stripe, so the
 * `rpc` given here records every call and the tests assert there was none.
 */

const SECRET = "sb_secret_refundvalidationtestkey0000";
const ORDER = "8a4e0c52-6f43-4c1b-9d7e-0b7b2a8f3c11";

function handler(calls: string[]) {
  const rpc: Rpc = (name) => {
    calls.push(name);
    return Promise.reject(new Error(`${name} called`));
  };
  return createRefundHandler({
    rpc,
    // A real client on a closed port: a validation failure never reaches Stripe either.
    stripe: createStripeClient({ secretKey: "sk_test_unreachable", apiBase: "http://127.0.0.1:9" }),
    isSecretKey: createSecretKeyCheck("http://functions.local", { default: SECRET }),
    config: { IDEMPOTENCY_LEASE_SECONDS: 60, IDEMPOTENCY_KEY_TTL_HOURS: 24 },
  });
}

function request(
  options: { method?: string; headers?: Record<string, string>; body?: unknown } = {},
): Request {
  const method = options.method ?? "POST";
  return new Request("http://functions.local/refund-order", {
    method,
    headers: {
      "content-type": "application/json",
      "idempotency-key": crypto.randomUUID(),
      apikey: SECRET,
      ...options.headers,
    },
    body: method === "GET"
      ? undefined
      : typeof options.body === "string"
      ? options.body
      : JSON.stringify(options.body ?? { order_id: ORDER }),
  });
}

const BAD: { name: string; req: () => Request; status: number; code: string }[] = [
  { name: "GET", req: () => request({ method: "GET" }), status: 405, code: "method_not_allowed" },
  {
    name: "no secret key",
    req: () => request({ headers: { apikey: "" } }),
    status: 401,
    code: "unauthorized",
  },
  {
    name: "another key",
    req: () => request({ headers: { apikey: SECRET.slice(0, -1) + "x" } }),
    status: 401,
    code: "unauthorized",
  },
  {
    name: "a longer key with the right prefix",
    req: () => request({ headers: { apikey: SECRET + "x" } }),
    status: 401,
    code: "unauthorized",
  },
  {
    name: "no Idempotency-Key",
    req: () => request({ headers: { "idempotency-key": "" } }),
    status: 400,
    code: "idempotency_key_missing",
  },
  {
    name: "not JSON",
    req: () => request({ body: "{" }),
    status: 400,
    code: "invalid_json",
  },
  {
    name: "another content type",
    req: () => request({ headers: { "content-type": "text/plain" } }),
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "a charset other than UTF-8",
    req: () => request({ headers: { "content-type": "application/json; charset=UTF-16" } }),
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "no order_id",
    req: () => request({ body: { amount: 5 } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "an order_id that is not a UUID",
    req: () => request({ body: { order_id: "42" } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "a zero amount",
    req: () => request({ body: { order_id: ORDER, amount: 0 } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "a fractional amount",
    req: () => request({ body: { order_id: ORDER, amount: 1.5 } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "an unknown reason",
    req: () => request({ body: { order_id: ORDER, reason: "whim" } }),
    status: 400,
    code: "invalid_request",
  },
  {
    name: "an unknown field",
    req: () => request({ body: { order_id: ORDER, currency: "usd" } }),
    status: 400,
    code: "invalid_request",
  },
];

for (const bad of BAD) {
  Deno.test(`refund-order refuses ${bad.name} before touching the database`, async () => {
    const calls: string[] = [];
    const response = await handler(calls)(bad.req());
    assert.equal(response.status, bad.status);
    const body = await response.json();
    assert.equal(body.error.code, bad.code);
    assert.equal(typeof body.error.message, "string");
    assert.deepEqual(calls, []);
  });
}

Deno.test("refund-order takes the secret key as a Bearer token too, then claims the key", async () => {
  const calls: string[] = [];
  const response = await handler(calls)(
    request({ headers: { apikey: "", authorization: `Bearer ${SECRET}` } }),
  );
  // The claim fails here (no database): a bare 500, after validation passed.
  assert.equal(response.status, 500);
  await response.body?.cancel();
  assert.deepEqual(calls, ["claim_idempotency_key"]);
});
