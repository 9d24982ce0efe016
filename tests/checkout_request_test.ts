import assert from "node:assert/strict";
import {
  assertAllowedRedirects,
  EnhancedCheckoutBody,
  GuestCheckoutBody,
  validateBody,
} from "../supabase/functions/_shared/checkout_request.ts";
import { ApiError } from "../supabase/functions/_shared/errors.ts";

const P1 = "00000000-0000-4000-8000-000000000001";
const P2 = "00000000-0000-4000-8000-000000000002";
const good = {
  email: "ada@example.com",
  items: [{ product_id: P1, quantity: 2 }],
  success_url: "https://shop.example/thanks?session_id={CHECKOUT_SESSION_ID}",
  cancel_url: "https://shop.example/cart",
};

function problems(
  body: unknown,
  schema: typeof GuestCheckoutBody | typeof EnhancedCheckoutBody = GuestCheckoutBody,
): { path: string; problem: string }[] {
  try {
    validateBody(schema, body);
  } catch (error) {
    assert.ok(error instanceof ApiError);
    assert.equal(error.code, "invalid_request");
    return error.details as { path: string; problem: string }[];
  }
  assert.fail("expected invalid_request");
}

Deno.test("accepts a valid guest body and keeps the URLs exactly as sent", () => {
  const body = validateBody(GuestCheckoutBody, good);
  assert.equal(body.success_url, good.success_url);
});

Deno.test("reports each bad field with its path", () => {
  const found = problems({
    email: "nope",
    items: [{ product_id: "x", quantity: 0 }, { product_id: P2, quantity: 100 }],
    success_url: "ftp://x",
    cancel_url: 5,
  });
  const paths = found.map((p) => p.path).sort();
  assert.deepEqual(paths, [
    "cancel_url",
    "email",
    "items.0.product_id",
    "items.0.quantity",
    "items.1.quantity",
    "success_url",
  ]);
});

Deno.test("refuses duplicate products, empty carts, more than 50 items and unknown fields", () => {
  assert.equal(
    problems({
      ...good,
      items: [{ product_id: P1, quantity: 1 }, { product_id: P1, quantity: 1 }],
    })[0]
      ?.path,
    "items.1.product_id",
  );
  assert.equal(problems({ ...good, items: [] })[0]?.path, "items");
  const many = Array.from({ length: 51 }, (_, i) => ({
    product_id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    quantity: 1,
  }));
  assert.equal(problems({ ...good, items: many })[0]?.path, "items");
  assert.match(problems({ ...good, price: 1 })[0]?.problem ?? "", /price/);
  assert.equal(
    problems({ ...good, items: [{ product_id: P1, quantity: 1.5 }] })[0]?.path,
    "items.0.quantity",
  );
});

Deno.test("enhanced bodies take no email but an optional promotion code", () => {
  const { email: _email, ...rest } = good;
  assert.equal(
    validateBody(EnhancedCheckoutBody, { ...rest, promotion_code: "promo_123" }).promotion_code,
    "promo_123",
  );
  assert.equal(problems(good, EnhancedCheckoutBody)[0]?.path, "(body)");
});

Deno.test("redirects must stay on an allowed origin", () => {
  assertAllowedRedirects(good, ["https://shop.example"]);
  assert.throws(
    () =>
      assertAllowedRedirects({ ...good, cancel_url: "https://evil.example/x" }, [
        "https://shop.example",
      ]),
    (e: ApiError) =>
      e.code === "redirect_not_allowed" &&
      JSON.stringify(e.details) === '{"fields":["cancel_url"]}',
  );
});
