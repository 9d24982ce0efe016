import assert from "node:assert/strict";
import { BEANS, type CheckoutCall, guestBody, SHOP, userBody } from "./checkout_helpers.ts";
import { DEFAULT_ALLOWED_ORIGINS } from "../local/stack/stack.ts";
import { AllowedOrigins } from "../supabase/functions/_shared/config.ts";
import {
  createEnhancedCheckoutHandler,
  createGuestCheckoutHandler,
} from "../supabase/functions/_shared/checkout_flow.ts";
import type { GuestCheckoutDeps } from "../supabase/functions/_shared/checkout_deps.ts";
import { createStripeClient } from "../supabase/functions/_shared/stripe.ts";
import type { Rpc } from "../supabase/functions/_shared/db.ts";

/**
 * The checks a checkout makes before it claims the client key, run in-process with a
 * `new Request`: nothing before the claim may reach the database, so the `rpc` given
 * here records every call and the tests assert there was none.
 */

interface BadCase {
  name: string;
  call?: CheckoutCall;
  raw?: () => Request;
  status: number;
  code: string;
}

const URL_ = "http://functions.local/guest-checkout";

const post = (init: RequestInit & { headers?: Record<string, string> }) =>
  new Request(URL_, {
    method: "POST",
    ...init,
    headers: { "idempotency-key": crypto.randomUUID(), ...init.headers },
  });

function checkoutRequest(call: CheckoutCall): Request {
  const headers = new Headers({ "content-type": "application/json", ...call.headers });
  if (call.key !== null) headers.set("idempotency-key", call.key ?? crypto.randomUUID());
  if (call.token) headers.set("authorization", `Bearer ${call.token}`);
  return new Request(URL_, {
    method: "POST",
    headers,
    body: typeof call.body === "string" ? call.body : JSON.stringify(call.body ?? guestBody()),
  });
}

function deps(calls: string[]): GuestCheckoutDeps {
  const rpc: Rpc = (name) => {
    calls.push(name);
    return Promise.reject(new Error(`${name} called before the claim`));
  };
  return {
    rpc,
    // A real client on a closed port: a validation failure never reaches Stripe either.
    stripe: createStripeClient({ secretKey: "sk_test_unreachable", apiBase: "http://127.0.0.1:9" }),
    config: {
      ALLOWED_ORIGINS: AllowedOrigins.parse(DEFAULT_ALLOWED_ORIGINS),
      IDEMPOTENCY_LEASE_SECONDS: 60,
      IDEMPOTENCY_KEY_TTL_HOURS: 24,
      CHECKOUT_SESSION_TTL_MINUTES: 30,
      PENDING_CHECKOUTS_PER_EMAIL: 3,
      PENDING_CHECKOUTS_PER_IP: 20,
    },
    now: () => new Date(),
  };
}

const CASES: BadCase[] = [
  {
    name: "GET",
    raw: () => new Request(URL_),
    status: 405,
    code: "method_not_allowed",
  },
  {
    name: "text/plain body",
    raw: () =>
      post({ headers: { "content-type": "text/plain" }, body: JSON.stringify(guestBody()) }),
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "no content type",
    raw: () => post({ body: new Blob([JSON.stringify(guestBody())]) }),
    status: 415,
    code: "unsupported_media_type",
  },
  ...["utf-16", '"UTF-16"', "iso-8859-1", "utf-8x", '"utf-8', ""].map((charset) => ({
    name: `application/json; charset=${charset}`,
    call: { headers: { "content-type": `application/json; charset=${charset}` } },
    status: 415,
    code: "unsupported_media_type",
  })),
  {
    name: "a second charset other than UTF-8",
    call: { headers: { "content-type": "application/json; charset=utf-8; charset=utf-16" } },
    status: 415,
    code: "unsupported_media_type",
  },
  {
    name: "a body over 64 KiB",
    call: { body: { ...guestBody(), pad: "x".repeat(70_000) } },
    status: 413,
    code: "payload_too_large",
  },
  { name: "empty body", call: { body: "" }, status: 400, code: "invalid_json" },
  {
    name: "non-UTF-8 bytes",
    raw: () =>
      post({
        headers: { "content-type": "application/json" },
        body: new Uint8Array([0x7b, 0x22, 0xff, 0xfe, 0x22, 0x3a, 0x31, 0x7d]),
      }),
    status: 400,
    code: "invalid_json",
  },
  { name: "a JSON array", call: { body: "[]" }, status: 400, code: "invalid_request" },
  {
    name: "an unknown field",
    call: { body: guestBody({ unit_amount: 1 }) },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "quantity as a string",
    call: { body: guestBody({ items: [{ product_id: BEANS, quantity: "2" }] }) },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "a huge quantity",
    call: { body: guestBody({ items: [{ product_id: BEANS, quantity: 1e308 }] }) },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "a negative quantity",
    call: { body: guestBody({ items: [{ product_id: BEANS, quantity: -1 }] }) },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "the same product twice",
    call: {
      body: guestBody({
        items: [{ product_id: BEANS, quantity: 1 }, { product_id: BEANS, quantity: 1 }],
      }),
    },
    status: 400,
    code: "invalid_request",
  },
  {
    name: "a bad email",
    call: { body: guestBody({ email: "not-an-email" }) },
    status: 400,
    code: "invalid_request",
  },
  { name: "no key", call: { key: null }, status: 400, code: "idempotency_key_missing" },
  { name: "an empty key", call: { key: "" }, status: 400, code: "idempotency_key_missing" },
  {
    name: "a 256-character key",
    call: { key: "k".repeat(256) },
    status: 400,
    code: "idempotency_key_invalid",
  },
  {
    name: "a key with a space",
    call: { key: "two words" },
    status: 400,
    code: "idempotency_key_invalid",
  },
  {
    name: "a badly quoted key",
    call: { key: '"open' },
    status: 400,
    code: "idempotency_key_invalid",
  },
  {
    name: "a foreign success_url",
    call: { body: guestBody({ success_url: "https://evil.example/steal" }) },
    status: 400,
    code: "redirect_not_allowed",
  },
  {
    name: "a javascript: cancel_url",
    call: { body: guestBody({ cancel_url: "javascript:alert(1)" }) },
    status: 400,
    code: "invalid_request",
  },
];

Deno.test("bad requests: status, code, JSON error, nothing written", async (t) => {
  for (const c of CASES) {
    await t.step(`${c.name} → ${c.status} ${c.code}`, async () => {
      const calls: string[] = [];
      const handler = createGuestCheckoutHandler(deps(calls));
      const response = await handler(c.raw ? c.raw() : checkoutRequest(c.call ?? {}));
      const text = await response.text();
      assert.equal(response.status, c.status, text);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      assert.equal(body.error.code, c.code);
      assert.ok(body.error.message.length > 0);
      assert.deepEqual(calls, [], "nothing reaches the database before the claim");
    });
  }
});

Deno.test("a body declared UTF-8 in any spelling passes the media-type check", async (t) => {
  const types = [
    "application/json",
    "application/json; charset=utf-8",
    "Application/JSON;Charset=UTF-8",
    'application/json; charset="utf-8"',
    "application/json ; foo=bar; charset=utf8",
  ];
  for (const type of types) {
    await t.step(type, async () => {
      const calls: string[] = [];
      const handler = createGuestCheckoutHandler(deps(calls));
      const response = await handler(checkoutRequest({ headers: { "content-type": type } }));
      await response.body?.cancel();
      // Valid through and through: the first database call is the claim.
      assert.equal(response.status, 500);
      assert.equal(calls.length, 1);
    });
  }
});

Deno.test("cancel refuses a charset other than UTF-8 with 415, before the database", async () => {
  const calls: string[] = [];
  const handler = createGuestCheckoutHandler(deps(calls));
  const response = await handler(
    new Request(`${URL_}/cancel`, {
      method: "POST",
      headers: {
        "content-type": "application/json; charset=utf-16le",
        "idempotency-key": crypto.randomUUID(),
      },
      body: JSON.stringify({ order_id: crypto.randomUUID() }),
    }),
  );
  const body = await response.json();
  assert.equal(response.status, 415);
  assert.equal(body.error.code, "unsupported_media_type");
  assert.deepEqual(calls, []);
});

Deno.test("enhanced-checkout refuses a request without a user before reading it", async () => {
  const calls: string[] = [];
  const handler = createEnhancedCheckoutHandler({
    ...deps(calls),
    stripe: createStripeClient({ secretKey: "sk_test_unreachable", apiBase: "http://127.0.0.1:9" }),
    verifyUser: () => Promise.resolve(undefined),
  });
  const response = await handler(
    checkoutRequest({ key: null, body: { ...userBody(), items: [{ product_id: BEANS }] } }),
  );
  assert.equal(response.status, 401);
  assert.equal((await response.json()).error.code, "unauthorized");
  assert.deepEqual(calls, []);
});

Deno.test("CORS preflight answers allowed origins only", async () => {
  const handler = createGuestCheckoutHandler(deps([]));
  const allowed = await handler(
    new Request(URL_, {
      method: "OPTIONS",
      headers: { origin: SHOP, "access-control-request-method": "POST" },
    }),
  );
  assert.equal(allowed.headers.get("access-control-allow-origin"), SHOP);
  assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /idempotency-key/);
  const foreign = await handler(
    new Request(URL_, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    }),
  );
  assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  const answer = await handler(checkoutRequest({ key: null, headers: { origin: SHOP } }));
  assert.equal(answer.headers.get("access-control-allow-origin"), SHOP, "errors carry CORS too");
  assert.equal(answer.status, 400);
});
