/**
 * `deno task bench`: latency of the checkout paths through the real local stack
 * (gateway, function process, PostgREST-compatible RPC, Postgres, Stripe emulator).
 * The stack lives until the process exits; its processes and database go with it.
 */
import { startTestStack } from "./harness.ts";
import { callCheckout, FILTERS, guestBody } from "./checkout_helpers.ts";
import { canonicalJson } from "../supabase/functions/_shared/canonical_json.ts";
import { requestFingerprint } from "../supabase/functions/_shared/fingerprint.ts";

const stack = await startTestStack();
const finishedKey = crypto.randomUUID();
const unlimited = guestBody({ items: [{ product_id: FILTERS, quantity: 1 }] });
await callCheckout(stack, "guest-checkout", { key: finishedKey, body: unlimited });

function expect(status: number, answer: { status: number; text: string }): void {
  if (answer.status !== status) {
    throw new Error(`expected ${status}, got ${answer.status}: ${answer.text}`);
  }
}

Deno.bench("replay of a finished checkout (1 RPC, 0 Stripe calls)", { group: "http" }, async () => {
  expect(200, await callCheckout(stack, "guest-checkout", { key: finishedKey, body: unlimited }));
});

Deno.bench(
  "fresh guest checkout (3 RPCs, 1 Stripe call)",
  { group: "http", baseline: true },
  async () => {
    expect(201, await callCheckout(stack, "guest-checkout", { body: unlimited }));
  },
);

Deno.bench("rejected request: unknown field (no database call)", { group: "http" }, async () => {
  expect(400, await callCheckout(stack, "guest-checkout", { body: { ...unlimited, x: 1 } }));
});

const bigCart = guestBody({
  items: Array.from({ length: 50 }, (_, i) => ({
    product_id: `00000000-0000-4000-8000-${String(i).padStart(12, "0")}`,
    quantity: 99,
  })),
});

Deno.bench("canonical JSON of a 50-item cart", { group: "pure" }, () => {
  canonicalJson(bigCart);
});

Deno.bench("request fingerprint of a 50-item cart", { group: "pure" }, async () => {
  await requestFingerprint("guest", bigCart);
});
