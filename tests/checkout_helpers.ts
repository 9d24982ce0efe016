import assert from "node:assert/strict";
import type postgres from "npm:postgres@3.4.9";
import type { TestStack } from "./harness.ts";
import { EmulatorControl } from "../local/stripe-emulator/control_client.ts";
import { createStripeClient, type Stripe } from "../supabase/functions/_shared/stripe.ts";

/** Seed products (local/stack/seed.sql). */
export const BEANS = "00000000-0000-4000-8000-000000000001"; // usd, stock 100
export const KETTLE = "00000000-0000-4000-8000-000000000002"; // usd, stock 10
export const FILTERS = "00000000-0000-4000-8000-000000000003"; // usd, unlimited
export const DRIPPER = "00000000-0000-4000-8000-000000000004"; // usd, stock 3
export const RETIRED = "00000000-0000-4000-8000-000000000005"; // inactive
export const EURO_COFFEE = "00000000-0000-4000-8000-000000000006"; // eur, stock 50

export const SHOP = "http://localhost:3000";

export interface CheckoutCall {
  key?: string | null;
  body?: unknown;
  token?: string;
  headers?: Record<string, string>;
}

export interface CheckoutAnswer {
  status: number;
  text: string;
  json: Record<string, unknown>;
  headers: Headers;
}

export function guestBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    email: "ada@example.com",
    items: [{ product_id: BEANS, quantity: 2 }],
    success_url: `${SHOP}/thanks?session_id={CHECKOUT_SESSION_ID}`,
    cancel_url: `${SHOP}/cart`,
    ...overrides,
  };
}

export function userBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const { email: _email, ...rest } = guestBody(overrides);
  return rest;
}

/** One real HTTP request to a checkout function through the gateway. */
export async function callCheckout(
  stack: TestStack,
  fn: "guest-checkout" | "enhanced-checkout",
  call: CheckoutCall,
): Promise<CheckoutAnswer> {
  const headers = new Headers({ "content-type": "application/json", ...call.headers });
  if (call.key !== null) headers.set("idempotency-key", call.key ?? crypto.randomUUID());
  if (call.token) headers.set("authorization", `Bearer ${call.token}`);
  return answerOf(
    await fetch(`${stack.functionsUrl}/${fn}`, {
      method: "POST",
      headers,
      body: typeof call.body === "string" ? call.body : JSON.stringify(call.body ?? guestBody()),
    }),
  );
}

/** A function's answer, its body read as text and, when it is JSON, parsed. */
export async function answerOf(response: Response): Promise<CheckoutAnswer> {
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text);
  } catch {
    // left empty: the test asserts on status/text
  }
  return { status: response.status, text, json, headers: response.headers };
}

export function emulator(stack: TestStack): EmulatorControl {
  return new EmulatorControl(stack.stripeUrl);
}

/** The real Stripe SDK pointed at the stack's emulator. */
export function stripeOf(stack: TestStack, options: { maxNetworkRetries?: number } = {}): Stripe {
  return createStripeClient({
    secretKey: stack.stripeSecretKey,
    apiBase: stack.stripeUrl,
    ...options,
  });
}

/**
 * A guest checkout whose session Stripe made under a key it then saved a 500 for: answered 503
 * twice (the second replays the 500, and the operation is re-keyed), so its next attempt must
 * find that session rather than make another. The stack runs without SDK retries
 * (`STRIPE_MAX_NETWORK_RETRIES=0`), so each call is one call to Stripe.
 */
export async function rekeyedCheckout(
  stack: TestStack,
): Promise<{ key: string; body: Record<string, unknown> }> {
  await emulator(stack).addFault({
    route: "POST /v1/checkout/sessions",
    mode: "saved_500",
    effect: true,
    times: 1,
  });
  const key = crypto.randomUUID();
  const body = guestBody({ items: [{ product_id: BEANS, quantity: 1 }] });
  for (let i = 0; i < 2; i++) {
    const answer = await callCheckout(stack, "guest-checkout", { key, body });
    assert.equal(answer.status, 503, answer.text);
  }
  return { key, body };
}

export async function sessionsCreated(stack: TestStack): Promise<number> {
  return (await emulator(stack).counters()).created.checkout_session;
}

export async function stockOfProduct(sql: postgres.Sql, productId: string): Promise<number | null> {
  const [row] = await sql<{ stock: number | null }[]>`
    select stock from public.products where id = ${productId}`;
  return row?.stock ?? null;
}

export function stockOf(stack: TestStack, productId: string): Promise<number | null> {
  return stockOfProduct(stack.sql, productId);
}

export interface KeyOrder {
  id: string;
  status: string;
  checkout_session_id: string | null;
}

/** The order a guest checkout key made; undefined before begin_checkout made one. */
export async function orderOfKey(sql: postgres.Sql, key: string): Promise<KeyOrder | undefined> {
  const rows = await sql<KeyOrder[]>`
    select id, status, checkout_session_id from public.orders where idempotency_key = ${key}`;
  if (rows.length > 1) throw new Error(`${rows.length} orders for key ${key}: a key makes one`);
  return rows[0];
}

/** orderOfKey when the order must exist. */
export async function requireOrderOfKey(sql: postgres.Sql, key: string): Promise<KeyOrder> {
  const order = await orderOfKey(sql, key);
  if (!order) throw new Error(`no order for key ${key}`);
  return order;
}

/**
 * A guest checkout that Stripe failed before creating anything (503): the order is begun and
 * its Stripe operation left open, for a later call with the returned key to resume.
 */
export async function checkoutStripeFailed(stack: TestStack): Promise<string> {
  const control = emulator(stack);
  await control.reset();
  await control.addFault({ route: "POST /v1/checkout/sessions", mode: "before", status: 500 });
  const key = crypto.randomUUID();
  const answer = await callCheckout(stack, "guest-checkout", { key });
  if (answer.status !== 503) throw new Error(`expected 503, got ${answer.status}: ${answer.text}`);
  return key;
}

/** Rows in every table a checkout writes to: "nothing written" is all zeros. */
export interface WrittenRows {
  orders: number;
  order_items: number;
  idempotency_keys: number;
  stripe_idempotency_keys: number;
  stripe_customers: number;
}

export async function writtenRows(stack: TestStack): Promise<WrittenRows> {
  const [row] = await stack.sql<WrittenRows[]>`
    select
      (select count(*)::int from public.orders) as orders,
      (select count(*)::int from public.order_items) as order_items,
      (select count(*)::int from public.idempotency_keys) as idempotency_keys,
      (select count(*)::int from public.stripe_idempotency_keys) as stripe_idempotency_keys,
      (select count(*)::int from public.stripe_customers) as stripe_customers`;
  if (!row) throw new Error("no row");
  return row;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls until `check` holds, failing after `timeoutMs` with `what` in the message. */
export async function waitUntil(
  what: string,
  check: () => Promise<boolean>,
  timeoutMs = 10_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await sleep(20);
  }
}

/** Integration tests hold pooled connections and child processes across steps. */
export const INTEGRATION = { sanitizeOps: false, sanitizeResources: false } as const;
