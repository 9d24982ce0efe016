import assert from "node:assert/strict";
import { SignJWT } from "npm:jose@6.2.17";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  BEANS,
  callCheckout,
  type CheckoutCall,
  DRIPPER,
  EURO_COFFEE,
  guestBody,
  INTEGRATION,
  RETIRED,
  SHOP,
  userBody,
  writtenRows,
} from "./checkout_helpers.ts";

interface BadCase {
  name: string;
  fn?: "guest-checkout" | "enhanced-checkout";
  method?: string;
  call?: CheckoutCall;
  raw?: (stack: TestStack) => Promise<Response>;
  status: number;
  code: string;
  /** Cases past validation store their answer and write the claim; all others write nothing. */
  writes?: boolean;
}

const CASES: BadCase[] = [
  // The pre-claim cases run in-process (checkout_validation_test.ts); GET and truncated
  // JSON stay here to prove the stack answers them the same way.
  {
    name: "GET",
    raw: (s) => fetch(`${s.functionsUrl}/guest-checkout`),
    status: 405,
    code: "method_not_allowed",
  },
  { name: "truncated JSON", call: { body: '{"email": ' }, status: 400, code: "invalid_json" },
  {
    name: "an inactive product",
    call: { body: guestBody({ items: [{ product_id: RETIRED, quantity: 1 }] }) },
    status: 422,
    code: "product_unavailable",
    writes: true,
  },
  {
    name: "an unknown product",
    call: {
      body: guestBody({
        items: [{ product_id: "7d7d7d7d-0000-4000-8000-000000000000", quantity: 1 }],
      }),
    },
    status: 422,
    code: "product_unavailable",
    writes: true,
  },
  {
    name: "two currencies",
    call: {
      body: guestBody({
        items: [{ product_id: BEANS, quantity: 1 }, { product_id: EURO_COFFEE, quantity: 1 }],
      }),
    },
    status: 422,
    code: "currency_mismatch",
    writes: true,
  },
  {
    name: "more than the stock",
    call: { body: guestBody({ items: [{ product_id: DRIPPER, quantity: 4 }] }) },
    status: 409,
    code: "insufficient_stock",
    writes: true,
  },
];

Deno.test("bad requests: status, code, JSON error, nothing written", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  for (const c of CASES) {
    await t.step(`${c.name} → ${c.status} ${c.code}`, async () => {
      await stack.sql`truncate public.idempotency_keys`;
      const before = await writtenRows(stack);
      let status: number;
      let text: string;
      if (c.raw) {
        const response = await c.raw(stack);
        status = response.status;
        text = await response.text();
      } else {
        ({ status, text } = await callCheckout(stack, c.fn ?? "guest-checkout", c.call ?? {}));
      }
      assert.equal(status, c.status, text);
      const body = JSON.parse(text) as { error: { code: string; message: string } };
      assert.equal(body.error.code, c.code);
      assert.ok(body.error.message.length > 0);
      const after = await writtenRows(stack);
      if (c.writes) {
        // Only the stored answer: no order, no reservation, no Stripe operation.
        assert.deepEqual(after, { ...before, idempotency_keys: before.idempotency_keys + 1 });
      } else {
        assert.deepEqual(after, before);
      }
    });
  }

  await t.step("an unexpected failure answers a bare 500 that leaks nothing", async () => {
    await stack.sql`alter function public.begin_checkout rename to begin_checkout_gone`;
    try {
      const answer = await callCheckout(stack, "guest-checkout", {});
      assert.equal(answer.status, 500);
      assert.deepEqual(answer.json, {
        error: { code: "internal_error", message: "Something went wrong on our side." },
      });
    } finally {
      await stack.sql`alter function public.begin_checkout_gone rename to begin_checkout`;
    }
  });

  await t.step("CORS preflight answers allowed origins only", async () => {
    const allowed = await fetch(`${stack.functionsUrl}/guest-checkout`, {
      method: "OPTIONS",
      headers: { origin: SHOP, "access-control-request-method": "POST" },
    });
    await allowed.body?.cancel();
    assert.equal(allowed.headers.get("access-control-allow-origin"), SHOP);
    assert.match(allowed.headers.get("access-control-allow-headers") ?? "", /idempotency-key/);
    const foreign = await fetch(`${stack.functionsUrl}/guest-checkout`, {
      method: "OPTIONS",
      headers: { origin: "https://evil.example", "access-control-request-method": "POST" },
    });
    await foreign.body?.cancel();
    assert.equal(foreign.headers.get("access-control-allow-origin"), null);
  });
});

Deno.test(
  "enhanced-checkout refuses every legacy HS256 token that is not a live user's",
  INTEGRATION,
  async (t) => {
    await using stack = await startTestStack();
    const secret = new TextEncoder().encode(stack.jwtSecret);
    const sub = crypto.randomUUID();
    const now = Math.floor(Date.now() / 1000);
    const iss = `${stack.apiUrl}/auth/v1`;
    const sign = (claims: Record<string, unknown>, key = secret) =>
      new SignJWT({ role: "authenticated", sub, aud: "authenticated", iss, ...claims })
        .setProtectedHeader({ alg: "HS256", typ: "JWT" }).sign(key);
    const unsigned = (claims: Record<string, unknown>) =>
      [
        btoa(JSON.stringify({ alg: "none", typ: "JWT" })),
        btoa(JSON.stringify({ role: "authenticated", sub, exp: now + 600, ...claims })),
        "",
      ].map((p) => p.replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_")).join(".");

    const tokens: [string, string | undefined][] = [
      ["no token", undefined],
      ["garbage", "not.a.token"],
      ["expired", await sign({ exp: now - 60, iat: now - 3600 })],
      ["wrong secret", await sign({ exp: now + 600 }, new TextEncoder().encode("x".repeat(40)))],
      ["alg none", unsigned({})],
      ["the anon key", stack.anonKey],
      ["the service_role key", stack.serviceRoleKey],
      ["a non-uuid sub", await sign({ exp: now + 600, sub: "admin" })],
    ];
    for (const [name, token] of tokens) {
      await t.step(`${name} → 401 unauthorized, nothing written`, async () => {
        const before = await writtenRows(stack);
        const answer = await callCheckout(stack, "enhanced-checkout", { token, body: userBody() });
        assert.equal(answer.status, 401, answer.text);
        // The gateway's verify_jwt or the function itself: both answer JSON.
        assert.ok(answer.text.startsWith("{"), answer.text);
        assert.deepEqual(await writtenRows(stack), before);
      });
    }

    await t.step("a live user token passes", async () => {
      const token = await sign({ exp: now + 600, email: "live@example.com" });
      const answer = await callCheckout(stack, "enhanced-checkout", { token, body: userBody() });
      assert.equal(answer.status, 201, answer.text);
    });
  },
);
