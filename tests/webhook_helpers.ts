/** Shared by the tests/webhook_*_test.ts files: orders, the hosted page, signed deliveries. */
import type postgres from "npm:postgres@3.4.9";
import { startTestStack, type TestStack } from "./harness.ts";
import { BEANS, callCheckout, emulator, guestBody } from "./checkout_helpers.ts";
import { signatureHeader } from "../local/stripe-emulator/signing.ts";
import type { StripeEvent } from "../local/stripe-emulator/objects.ts";

/**
 * A stack whose emulator neither delivers webhooks nor settles delayed payments on its
 * own: the test delivers each event when, how often and in what order it chooses.
 */
export async function startManualWebhookStack(): Promise<TestStack> {
  const stack = await startTestStack();
  try {
    const control = emulator(stack);
    await control.setWebhooks({ auto: false });
    await control.setAsyncPaymentDelay(null);
  } catch (error) {
    await stack.stop();
    throw error;
  }
  return stack;
}

export interface CreatedCheckout {
  order_id: string;
  checkout_session_id: string;
  checkout_url: string;
  amount_total: number;
  currency: string;
}

/** A real guest checkout through the gateway; fails the test unless it answers 201. */
export async function guestCheckout(
  stack: TestStack,
  items: { product_id: string; quantity: number }[],
): Promise<CreatedCheckout> {
  const answer = await callCheckout(stack, "guest-checkout", { body: guestBody({ items }) });
  if (answer.status !== 201) {
    throw new Error(`guest-checkout answered ${answer.status}: ${answer.text}`);
  }
  return answer.json as unknown as CreatedCheckout;
}

export type PageAction = "pay" | "pay_delayed_succeed" | "pay_delayed_fail" | "cancel";

/**
 * What a customer does on the hosted page, over plain HTTP: GET the page, then POST
 * its form with the chosen button. Returns where the page redirects to.
 */
export async function submitHostedPage(checkoutUrl: string, action: PageAction): Promise<string> {
  const page = await fetch(checkoutUrl);
  const html = await page.text();
  if (page.status !== 200) throw new Error(`hosted page answered ${page.status}: ${html}`);
  const form = /<form method="post" action="([^"]+)"/.exec(html);
  if (!form?.[1]) throw new Error(`no form on the hosted page: ${html.slice(0, 300)}`);
  if (!html.includes(`value="${action}"`)) throw new Error(`no ${action} button on the page`);
  const response = await fetch(new URL(form[1].replaceAll("&#47;", "/"), checkoutUrl), {
    method: "POST",
    headers: { "content-type": "application/x-www-form-urlencoded" },
    body: new URLSearchParams({ action }).toString(),
    redirect: "manual",
  });
  await response.body?.cancel();
  const location = response.headers.get("location");
  if (response.status !== 303 || !location) {
    throw new Error(`hosted page ${action} answered ${response.status}`);
  }
  return location;
}

export interface OrderState {
  status: string;
  checkout_session_id: string | null;
  payment_intent_id: string | null;
  paid: boolean;
  stock_released: boolean;
  needs_review: boolean;
  review_reason: string | null;
}

export async function orderState(sql: postgres.Sql, orderId: string): Promise<OrderState> {
  const [row] = await sql<OrderState[]>`
    select status, checkout_session_id, payment_intent_id, paid_at is not null as paid,
      stock_released_at is not null as stock_released, needs_review, review_reason
    from public.orders where id = ${orderId}`;
  if (!row) throw new Error(`no order ${orderId}`);
  return row;
}

export interface EventRow {
  stripe_event_id: string;
  type: string;
  status: string;
  attempts: number;
  last_error: string | null;
  order_id: string | null;
  result: string | null;
}

export async function eventRows(sql: postgres.Sql): Promise<EventRow[]> {
  return await sql<EventRow[]>`
    select stripe_event_id, type, status, attempts, last_error, order_id, result
    from public.stripe_webhook_events order by id`;
}

/** Outbox topics for an order, e.g. ["order.paid"]. */
export async function outboxTopics(sql: postgres.Sql, orderId: string): Promise<string[]> {
  const rows = await sql<{ topic: string }[]>`
    select topic from public.outbox where order_id = ${orderId} order by id`;
  return rows.map((r) => r.topic);
}

/** The events the emulator emitted for one object (a session, or its charge), oldest first. */
export async function emulatorEvents(stack: TestStack): Promise<StripeEvent[]> {
  return (await emulator(stack).events()).data;
}

export function eventsOfSession(
  events: StripeEvent[],
  sessionId: string,
  paymentIntentIds: string[] = [],
): StripeEvent[] {
  return events.filter((e) => {
    const object = e.data.object as { id: string; payment_intent?: string | null };
    return object.id === sessionId ||
      (object.payment_intent != null && paymentIntentIds.includes(object.payment_intent));
  });
}

/** eventsOfSession over everything the stack's emulator emitted so far. */
export async function sessionEvents(
  stack: TestStack,
  sessionId: string,
  paymentIntentIds: string[] = [],
): Promise<StripeEvent[]> {
  return eventsOfSession(await emulatorEvents(stack), sessionId, paymentIntentIds);
}

export function requireEvent(events: StripeEvent[], type: string): StripeEvent {
  const event = events.find((e) => e.type === type);
  if (!event) throw new Error(`no ${type} event among ${events.map((e) => e.type).join(", ")}`);
  return event;
}

export interface Delivery {
  status: number;
  body: string;
}

/**
 * Posts a body to the webhook endpoint signed exactly as Stripe signs (the emulator's
 * signing code). `secret` defaults to the stack's current one; `timestamp` to now.
 */
export async function deliverSigned(
  stack: TestStack,
  payload: string,
  options: { secret?: string; timestamp?: number; signature?: string | null } = {},
): Promise<Delivery> {
  const secret = options.secret ?? stack.webhookSecret.split(",")[0] ?? "";
  const signature = options.signature === undefined
    ? await signatureHeader(secret, payload, options.timestamp)
    : options.signature;
  const headers = new Headers({ "content-type": "application/json; charset=utf-8" });
  if (signature !== null) headers.set("stripe-signature", signature);
  const response = await fetch(`${stack.functionsUrl}/stripe-webhook`, {
    method: "POST",
    headers,
    body: payload,
  });
  return { status: response.status, body: await response.text() };
}

/** An event as Stripe would send it, for cases the emulator cannot produce by itself. */
export function stripeEvent(type: string, object: Record<string, unknown>): StripeEvent {
  return {
    id: `evt_test_${crypto.randomUUID().replaceAll("-", "")}`,
    object: "event",
    api_version: "2026-10-28.endive",
    created: Math.floor(Date.now() / 1000),
    data: { object: object as unknown as StripeEvent["data"]["object"] },
    livemode: false,
    pending_webhooks: 1,
    request: { id: null, idempotency_key: null },
    type,
  };
}

/** A product of the test's own database with a known stock. */
export async function createProduct(
  sql: postgres.Sql,
  stock: number,
  unitAmount = 1000,
): Promise<string> {
  const [row] = await sql<{ id: string }[]>`
    insert into public.products (name, unit_amount, currency, stock)
    values (${`Test product ${crypto.randomUUID().slice(0, 8)}`}, ${unitAmount}, 'usd', ${stock})
    returning id`;
  if (!row) throw new Error("no product");
  return row.id;
}

/**
 * An order as begin_checkout leaves it (stock reserved), written with SQL, for tests
 * that exercise the webhook without a Checkout Session behind it.
 */
export async function createOrderInSql(
  sql: postgres.Sql,
  productId: string,
  options: { quantity?: number; unitAmount?: number; sessionId?: string | null } = {},
): Promise<{ orderId: string; amount: number }> {
  const quantity = options.quantity ?? 1;
  const unitAmount = options.unitAmount ?? 1000;
  const amount = quantity * unitAmount;
  const orderId = crypto.randomUUID();
  await sql.begin(async (tx) => {
    await tx`update public.products set stock = stock - ${quantity} where id = ${productId}`;
    await tx`
      insert into public.orders (id, scope, idempotency_key, request_fingerprint, email, currency,
        amount_subtotal, amount_total, success_url, cancel_url, checkout_expires_at, checkout_session_id)
      values (${orderId}, 'guest', ${crypto.randomUUID()}, ${
      "a".repeat(64)
    }, 'a@example.com', 'usd',
        ${amount}, ${amount}, 'http://localhost:3000/thanks', 'http://localhost:3000/cart',
        now() + interval '30 minutes', ${options.sessionId ?? null})`;
    await tx`
      insert into public.order_items (order_id, product_id, name, quantity, unit_amount)
      values (${orderId}, ${productId}, 'Test product', ${quantity}, ${unitAmount})`;
    // begin_checkout's claim of the Stripe operation, still open (no session recorded).
    await tx`
      insert into public.stripe_idempotency_keys (operation_type, operation_id,
        stripe_idempotency_key, request_fingerprint, status, attempts)
      values ('checkout:create', ${orderId}, ${testCheckoutKey(orderId)}, ${"a".repeat(64)},
        'open', 1)`;
  });
  return { orderId, amount };
}

/**
 * The Stripe key of a createOrderInSql order's checkout:create operation. The checkout
 * puts its key in the session's metadata.checkout_key, and so does sessionObject.
 */
export function testCheckoutKey(orderId: string): string {
  return `checkout:create:${orderId}:${orderId}`;
}

/** A Checkout Session object as Stripe puts it in an event. */
export function sessionObject(
  orderId: string,
  sessionId: string,
  fields: Record<string, unknown>,
): Record<string, unknown> {
  return {
    id: sessionId,
    object: "checkout.session",
    client_reference_id: orderId,
    metadata: { order_id: orderId, checkout_key: testCheckoutKey(orderId) },
    currency: "usd",
    mode: "payment",
    ...fields,
  };
}

export function chargeObject(
  orderId: string,
  paymentIntent: string,
  amount: number,
  amountRefunded: number,
): Record<string, unknown> {
  return {
    id: `ch_${paymentIntent.slice(3)}`,
    object: "charge",
    amount,
    amount_refunded: amountRefunded,
    refunded: amountRefunded === amount,
    currency: "usd",
    payment_intent: paymentIntent,
    metadata: { order_id: orderId },
  };
}

/** `deno task ops` against the stack, as an operator runs it. */
export async function runOps(
  stack: TestStack,
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", new URL("../local/tools/ops.ts", import.meta.url).pathname, ...args],
    env: { SUPABASE_URL: stack.apiUrl, SUPABASE_SERVICE_ROLE_KEY: stack.serviceRoleKey },
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code: output.code,
    stdout: new TextDecoder().decode(output.stdout),
    stderr: new TextDecoder().decode(output.stderr),
  };
}

/**
 * Delivers an event as Stripe would send it (stripeEvent), signed; fails the test unless
 * the endpoint answers 200. Returns its outcome and the row it left.
 */
export async function sendEvent(
  stack: TestStack,
  type: string,
  object: Record<string, unknown>,
): Promise<{ outcome: string; row: EventRow | undefined }> {
  const event = stripeEvent(type, object);
  const answer = await deliverSigned(stack, JSON.stringify(event));
  if (answer.status !== 200) throw new Error(`webhook answered ${answer.status}: ${answer.body}`);
  const row = (await eventRows(stack.sql)).find((r) => r.stripe_event_id === event.id);
  return { outcome: JSON.parse(answer.body).outcome as string, row };
}

/** An id shaped like Stripe's (`cs_test_…`, `pi_test_…`, `re_…`), unique to the test. */
export function uniqueStripeId(prefix: string): string {
  return `${prefix}_${crypto.randomUUID().replaceAll("-", "").slice(0, 20)}`;
}

/**
 * An order of `amount` cents written with SQL (createOrderInSql), and the signed
 * checkout.session.completed that pays it (sent unless told not to).
 */
export async function paidOrderInSql(
  stack: TestStack,
  product: string,
  amount: number,
  pay = true,
) {
  const sessionId = uniqueStripeId("cs_test");
  const paymentIntent = uniqueStripeId("pi_test");
  const { orderId } = await createOrderInSql(stack.sql, product, { sessionId, unitAmount: amount });
  const completed = sessionObject(orderId, sessionId, {
    amount_total: amount,
    payment_status: "paid",
    payment_intent: paymentIntent,
  });
  if (pay) await sendEvent(stack, "checkout.session.completed", completed);
  return { orderId, paymentIntent, completed };
}

/** Runs `run` on every item, `size` at a time; the results keep the items' order. */
export async function inBatches<T, R>(
  items: T[],
  size: number,
  run: (item: T) => Promise<R>,
): Promise<R[]> {
  const results: R[] = [];
  for (let i = 0; i < items.length; i += size) {
    results.push(...await Promise.all(items.slice(i, i + size).map(run)));
  }
  return results;
}

/** `n` guest checkouts of one bag of beans each, `size` at a time (raise BEANS' stock first). */
export function guestCheckouts(
  stack: TestStack,
  n: number,
  size = 20,
): Promise<CreatedCheckout[]> {
  return inBatches(
    Array.from({ length: n }, (_, i) => i),
    size,
    () => guestCheckout(stack, [{ product_id: BEANS, quantity: 1 }]),
  );
}
