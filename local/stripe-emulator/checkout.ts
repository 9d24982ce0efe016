/**
 * Checkout Sessions: parameter validation (a failure here is never saved under an idempotency
 * key), creation, and the lifecycle driven by the hosted page, the clock and the control API.
 */
import { invalidRequest, resourceMissing, StripeApiError } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import { newId } from "./ids.ts";
import type { Charge, CheckoutSession, LineItem, Metadata, PaymentIntent } from "./objects.ts";
import { arrayOf, checkShape, map, objectOf, Params, scalar } from "./params.ts";
import type { EmulatorState, RequestContext, SessionRecord } from "./state.ts";
import { NO_REQUEST } from "./state.ts";

/** Stripe: "anywhere from 30 minutes to 24 hours after Checkout Session creation". */
const MIN_EXPIRY_SECONDS = 30 * 60;
const MAX_EXPIRY_SECONDS = 24 * 60 * 60;
/**
 * Clients compute `now + 30 min` on their own clock a moment before the emulator reads its
 * clock; a few seconds of slack keeps that default from failing at a second boundary.
 */
const EXPIRY_SLACK_SECONDS = 5;
/** Stripe's limits for one Checkout Session in payment mode. */
const MAX_LINE_ITEMS = 100;
const MAX_UNIT_AMOUNT = 99_999_999;
const MAX_QUANTITY = 999_999;

/** ISO 4217 codes Stripe settles in that tests are likely to use. */
const CURRENCIES = new Set([
  "usd",
  "eur",
  "gbp",
  "jpy",
  "cad",
  "aud",
  "chf",
  "sek",
  "nok",
  "dkk",
  "pln",
  "czk",
  "huf",
  "nzd",
  "sgd",
  "hkd",
  "mxn",
  "brl",
  "inr",
  "krw",
  "zar",
  "ron",
  "bgn",
  "ils",
  "try",
  "thb",
  "myr",
  "php",
  "idr",
  "aed",
]); // deno-fmt-ignore

const lineItemShape = objectOf({
  price: scalar,
  quantity: scalar,
  price_data: objectOf({
    currency: scalar,
    unit_amount: scalar,
    product: scalar,
    tax_behavior: scalar,
    product_data: objectOf({
      name: scalar,
      description: scalar,
      images: arrayOf(scalar),
      metadata: map,
      tax_code: scalar,
    }),
  }),
});

export const createSessionShape = objectOf({
  mode: scalar,
  line_items: arrayOf(lineItemShape),
  success_url: scalar,
  cancel_url: scalar,
  client_reference_id: scalar,
  customer: scalar,
  customer_email: scalar,
  customer_creation: scalar,
  metadata: map,
  payment_intent_data: objectOf({
    metadata: map,
    description: scalar,
    receipt_email: scalar,
    statement_descriptor: scalar,
    statement_descriptor_suffix: scalar,
    capture_method: scalar,
  }),
  expires_at: scalar,
  discounts: arrayOf(objectOf({ promotion_code: scalar, coupon: scalar })),
  allow_promotion_codes: scalar,
  payment_method_types: arrayOf(scalar),
  locale: scalar,
  submit_type: scalar,
  billing_address_collection: scalar,
  ui_mode: scalar,
  expand: arrayOf(scalar),
});

export const expandShape = objectOf({ expand: arrayOf(scalar) });

export interface LineItemInput {
  name: string;
  description: string | null;
  currency: string;
  unitAmount: number;
  quantity: number;
  productMetadata: Metadata;
}

export interface CreateSessionInput {
  lineItems: LineItemInput[];
  currency: string;
  successUrl: string;
  cancelUrl: string | null;
  clientReferenceId: string | null;
  customer: string | null;
  customerEmail: string | null;
  customerCreation: "if_required" | "always" | null;
  metadata: Metadata;
  paymentIntentMetadata: Metadata;
  paymentIntentDescription: string | null;
  expiresAt: number | null;
  promotionCode: string | null;
  allowPromotionCodes: boolean | null;
  paymentMethodTypes: string[];
  locale: string | null;
  submitType: string | null;
  billingAddressCollection: string | null;
  expand: string[];
}

function absoluteUrl(value: string | undefined, param: string): string | undefined {
  if (value === undefined) return undefined;
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    url = undefined;
  }
  if (!url || (url.protocol !== "http:" && url.protocol !== "https:") || value.length > 5000) {
    throw invalidRequest("Not a valid URL", param, "url_invalid");
  }
  return value;
}

export function checkExpand(expand: string[], allowed: readonly string[]): void {
  expand.forEach((field, index) => {
    if (!allowed.includes(field)) {
      throw invalidRequest(`This property cannot be expanded (${field}).`, `expand[${index}]`);
    }
  });
}

function parseLineItem(item: Params): LineItemInput {
  const quantity = item.integer("quantity", { required: true, min: 1, max: MAX_QUANTITY }) ?? 1;
  const price = item.string("price");
  if (price !== undefined) throw resourceMissing("price", price, item.path("price"));
  const priceData = item.child("price_data", { required: true });
  if (!priceData) {
    throw invalidRequest(
      `Missing required param: ${item.path("price_data")}.`,
      item.path("price_data"),
    );
  }
  const currency = priceData.string("currency", { required: true }) ?? "";
  if (!/^[a-z]{3}$/.test(currency) || !CURRENCIES.has(currency)) {
    throw invalidRequest(
      `Invalid currency: ${currency}. Stripe currently supports these currencies: ${
        [...CURRENCIES].join(", ")
      }`,
      priceData.path("currency"),
    );
  }
  const unitAmount =
    priceData.integer("unit_amount", { required: true, min: 0, max: MAX_UNIT_AMOUNT }) ?? 0;
  const product = priceData.string("product");
  if (product !== undefined) throw resourceMissing("product", product, priceData.path("product"));
  const productData = priceData.child("product_data", { required: true });
  if (!productData) {
    throw invalidRequest(`Missing required param: ${priceData.path("product_data")}.`);
  }
  return {
    name: productData.string("name", { required: true, maxLength: 250 }) ?? "",
    description: productData.string("description") ?? null,
    currency,
    unitAmount,
    quantity,
    productMetadata: productData.metadata("metadata"),
  };
}

/** Stripe's parameter validation for `POST /v1/checkout/sessions`, using the emulator clock. */
export function parseCreateSession(form: FormRecord, now: number): CreateSessionInput {
  checkShape(form, createSessionShape, "");
  const p = new Params(form);
  const mode = p.oneOf("mode", ["payment", "setup", "subscription"] as const, { required: true });
  if (mode !== "payment") {
    throw invalidRequest(
      `The Stripe emulator supports mode=payment only, got mode=${mode}.`,
      "mode",
    );
  }
  const uiMode = p.oneOf("ui_mode", ["hosted", "embedded", "custom"] as const);
  if (uiMode !== undefined && uiMode !== "hosted") {
    throw invalidRequest(`The Stripe emulator supports ui_mode=hosted only.`, "ui_mode");
  }
  const items = p.list("line_items");
  if (items.length === 0) {
    throw invalidRequest(
      "You must provide at least one `line_items` when `mode` is `payment`.",
      "line_items",
      "parameter_missing",
    );
  }
  if (items.length > MAX_LINE_ITEMS) {
    throw invalidRequest(`You may only specify up to ${MAX_LINE_ITEMS} line items.`, "line_items");
  }
  const lineItems = items.map(parseLineItem);
  const currency = lineItems[0]?.currency ?? "usd";
  lineItems.forEach((item, index) => {
    if (item.currency !== currency) {
      throw invalidRequest(
        `Checkout does not support multiple currencies: line item ${index} uses ${item.currency}, the session uses ${currency}.`,
        `line_items[${index}][price_data][currency]`,
      );
    }
  });
  const successUrl = absoluteUrl(p.string("success_url", { required: true }), "success_url") ?? "";
  const cancelUrl = absoluteUrl(p.string("cancel_url"), "cancel_url") ?? null;
  const customer = p.string("customer") ?? null;
  const customerEmail = p.string("customer_email", { maxLength: 512 }) ?? null;
  if (customer !== null && customerEmail !== null) {
    throw invalidRequest(
      "You may only specify one of these parameters: customer, customer_email.",
      "customer_email",
      "parameters_exclusive",
    );
  }
  if (customerEmail !== null && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(customerEmail)) {
    throw invalidRequest(
      `Invalid email address: ${customerEmail}`,
      "customer_email",
      "email_invalid",
    );
  }
  const expiresAt = p.integer("expires_at") ?? null;
  if (expiresAt !== null) {
    if (expiresAt < now + MIN_EXPIRY_SECONDS - EXPIRY_SLACK_SECONDS) {
      throw invalidRequest(
        `The \`expires_at\` timestamp must be at least 30 minutes from Checkout Session creation (${expiresAt} is ${
          expiresAt - now
        } s from now).`,
        "expires_at",
      );
    }
    if (expiresAt > now + MAX_EXPIRY_SECONDS) {
      throw invalidRequest(
        `The \`expires_at\` timestamp must be less than 24 hours from Checkout Session creation (${expiresAt} is ${
          expiresAt - now
        } s from now).`,
        "expires_at",
      );
    }
  }
  const discounts = p.list("discounts");
  if (discounts.length > 1) throw invalidRequest("You may only specify one discount.", "discounts");
  const discount = discounts[0];
  const coupon = discount?.string("coupon");
  if (coupon !== undefined) throw resourceMissing("coupon", coupon, "discounts[0][coupon]");
  const promotionCode = discount?.string("promotion_code") ?? null;
  const allowPromotionCodes = p.boolean("allow_promotion_codes") ?? null;
  if (allowPromotionCodes !== null && discounts.length > 0) {
    throw invalidRequest(
      "You may only specify one of these parameters: allow_promotion_codes, discounts.",
      "discounts",
      "parameters_exclusive",
    );
  }
  const piData = p.child("payment_intent_data");
  const expand = p.strings("expand");
  checkExpand(expand, ["line_items"]);
  return {
    lineItems,
    currency,
    successUrl,
    cancelUrl,
    clientReferenceId: p.string("client_reference_id", { maxLength: 200 }) ?? null,
    customer,
    customerEmail,
    customerCreation: p.oneOf("customer_creation", ["if_required", "always"] as const) ?? null,
    metadata: p.metadata("metadata"),
    paymentIntentMetadata: piData?.metadata("metadata") ?? {},
    paymentIntentDescription: piData?.string("description") ?? null,
    expiresAt,
    promotionCode,
    allowPromotionCodes,
    paymentMethodTypes: p.strings("payment_method_types"),
    locale: p.string("locale") ?? null,
    submitType: p.oneOf("submit_type", ["auto", "book", "donate", "pay", "subscribe"] as const) ??
      null,
    billingAddressCollection:
      p.oneOf("billing_address_collection", ["auto", "required"] as const) ?? null,
    expand,
  };
}

function discountFor(state: EmulatorState, input: CreateSessionInput, subtotal: number): number {
  if (input.promotionCode === null) return 0;
  const promo = state.promotionCodes.get(input.promotionCode);
  if (!promo) {
    throw resourceMissing("promotion code", input.promotionCode, "discounts[0][promotion_code]");
  }
  if (!promo.active) {
    throw invalidRequest(
      `This promotion code is inactive: '${promo.code}'`,
      "discounts[0][promotion_code]",
    );
  }
  const { percent_off: percentOff, amount_off: amountOff, currency } = promo.coupon;
  if (percentOff !== null) return Math.min(subtotal, Math.round((subtotal * percentOff) / 100));
  if (amountOff !== null && currency !== input.currency) {
    throw invalidRequest(
      `The promotion code's coupon is in ${currency}, but this Checkout Session is in ${input.currency}.`,
      "discounts[0][promotion_code]",
    );
  }
  return Math.min(subtotal, amountOff ?? 0);
}

/** Creation proper: runs after the request began executing, so its errors are saved. */
export function createSession(state: EmulatorState, input: CreateSessionInput): SessionRecord {
  if (input.customer !== null && !state.customers.has(input.customer)) {
    throw resourceMissing("customer", input.customer, "customer");
  }
  const now = state.clock.now();
  const id = newId("cs_test");
  const lineItems: LineItem[] = input.lineItems.map((item) => {
    const amount = item.unitAmount * item.quantity;
    return {
      id: newId("li"),
      object: "item",
      amount_discount: 0,
      amount_subtotal: amount,
      amount_tax: 0,
      amount_total: amount,
      currency: item.currency,
      description: item.name,
      price: {
        id: newId("price"),
        object: "price",
        active: false,
        currency: item.currency,
        product: newId("prod"),
        type: "one_time",
        unit_amount: item.unitAmount,
        livemode: false,
        metadata: {},
      },
      quantity: item.quantity,
    };
  });
  const subtotal = lineItems.reduce((sum, item) => sum + item.amount_subtotal, 0);
  const discount = discountFor(state, input, subtotal);
  const session: CheckoutSession = {
    id,
    object: "checkout.session",
    after_expiration: null,
    allow_promotion_codes: input.allowPromotionCodes,
    amount_subtotal: subtotal,
    amount_total: subtotal - discount,
    automatic_tax: { enabled: false, liability: null, status: null },
    billing_address_collection: input.billingAddressCollection,
    cancel_url: input.cancelUrl,
    client_reference_id: input.clientReferenceId,
    client_secret: null,
    created: now,
    currency: input.currency,
    custom_fields: [],
    customer: input.customer,
    customer_creation: input.customer === null ? (input.customerCreation ?? "if_required") : null,
    customer_details: null,
    customer_email: input.customerEmail,
    discounts: input.promotionCode === null
      ? []
      : [{ coupon: null, promotion_code: input.promotionCode }],
    expires_at: input.expiresAt ?? now + MAX_EXPIRY_SECONDS,
    invoice: null,
    livemode: false,
    locale: input.locale,
    metadata: input.metadata,
    mode: "payment",
    payment_intent: null,
    payment_link: null,
    payment_method_collection: "if_required",
    payment_method_types: input.paymentMethodTypes.length > 0 ? input.paymentMethodTypes : ["card"],
    payment_status: "unpaid",
    recovered_from: null,
    setup_intent: null,
    status: "open",
    submit_type: input.submitType,
    subscription: null,
    success_url: input.successUrl,
    total_details: { amount_discount: discount, amount_shipping: 0, amount_tax: 0 },
    ui_mode: "hosted",
    url: `${state.baseUrl}/c/pay/${id}`,
  };
  const record: SessionRecord = {
    session,
    lineItems,
    paymentIntentMetadata: input.paymentIntentMetadata,
    paymentIntentDescription: input.paymentIntentDescription,
    pendingAsyncOutcome: undefined,
  };
  state.sessions.set(id, record);
  state.counters.created("checkout_session");
  return record;
}

export function requireSession(state: EmulatorState, id: string, status = 404): SessionRecord {
  const record = state.sessions.get(id);
  if (!record) throw resourceMissing("checkout.session", id, "session", status);
  return record;
}

function notOpen(session: CheckoutSession, action: string): StripeApiError {
  return invalidRequest(
    `Only Checkout Sessions with a status in ["open"] can be ${action}. This Checkout Session has a status of "${session.status}".`,
  );
}

export function expireSession(
  state: EmulatorState,
  id: string,
  request: RequestContext = NO_REQUEST,
): SessionRecord {
  const record = requireSession(state, id);
  if (record.session.status !== "open") throw notOpen(record.session, "expired");
  record.session.status = "expired";
  record.session.url = null;
  state.emit("checkout.session.expired", record.session, request);
  return record;
}

/** Expires every open session whose `expires_at` has passed on the emulator clock. */
export function sweepExpired(state: EmulatorState): string[] {
  const now = state.clock.now();
  const expired: string[] = [];
  for (const record of state.sessions.values()) {
    if (record.session.status === "open" && record.session.expires_at <= now) {
      expireSession(state, record.session.id);
      expired.push(record.session.id);
    }
  }
  return expired;
}

function chargeFor(state: EmulatorState, record: SessionRecord, intent: PaymentIntent): Charge {
  const id = newId("ch");
  const charge: Charge = {
    id,
    object: "charge",
    amount: intent.amount,
    amount_captured: intent.amount,
    amount_refunded: 0,
    balance_transaction: null,
    captured: true,
    created: state.clock.now(),
    currency: intent.currency,
    customer: record.session.customer,
    description: intent.description,
    livemode: false,
    metadata: { ...intent.metadata },
    paid: true,
    payment_intent: intent.id,
    refunded: false,
    status: "succeeded",
    refunds: {
      object: "list",
      data: [],
      has_more: false,
      total_count: 0,
      url: `/v1/charges/${id}/refunds`,
    },
  };
  state.charges.set(id, charge);
  state.counters.created("charge");
  intent.latest_charge = id;
  intent.status = "succeeded";
  intent.amount_received = intent.amount;
  return charge;
}

export type PaymentMethod = { kind: "card" } | { kind: "delayed"; outcome: "succeeded" | "failed" };

/** The hosted page's Pay buttons: completes the session and emits `checkout.session.completed`. */
export function completeSession(
  state: EmulatorState,
  id: string,
  method: PaymentMethod,
  email: string | undefined,
): SessionRecord {
  const record = requireSession(state, id);
  const session = record.session;
  if (session.status !== "open") throw notOpen(session, "paid");
  const customerEmail = session.customer_email ??
    (session.customer ? state.customers.get(session.customer)?.email : undefined) ??
    email ?? "customer@example.com";
  session.customer_details = {
    address: null,
    email: customerEmail,
    name: null,
    phone: null,
    tax_exempt: "none",
    tax_ids: [],
  };
  session.status = "complete";
  session.url = null;
  if (session.amount_total === 0) {
    session.payment_status = "no_payment_required";
  } else {
    const intent: PaymentIntent = {
      id: newId("pi"),
      object: "payment_intent",
      amount: session.amount_total,
      amount_received: 0,
      created: state.clock.now(),
      currency: session.currency,
      customer: session.customer,
      description: record.paymentIntentDescription,
      latest_charge: null,
      livemode: false,
      metadata: { ...record.paymentIntentMetadata },
      status: "processing",
    };
    state.paymentIntents.set(intent.id, intent);
    state.counters.created("payment_intent");
    session.payment_intent = intent.id;
    if (method.kind === "card") {
      chargeFor(state, record, intent);
      session.payment_status = "paid";
    } else {
      session.payment_status = "unpaid";
      record.pendingAsyncOutcome = method.outcome;
    }
  }
  state.emit("checkout.session.completed", session);
  if (record.pendingAsyncOutcome !== undefined) {
    const delay = state.asyncPaymentDelayMs;
    // A negative or infinite delay leaves settlement to the control API.
    if (delay >= 0 && Number.isFinite(delay)) {
      state.timers.after(delay, () => {
        if (state.sessions.get(id) === record && record.pendingAsyncOutcome !== undefined) {
          settleAsyncPayment(state, id, undefined);
        }
      });
    }
  }
  return record;
}

/** Settles a delayed payment: `async_payment_succeeded` (now paid) or `async_payment_failed`. */
export function settleAsyncPayment(
  state: EmulatorState,
  id: string,
  outcome: "succeeded" | "failed" | undefined,
): SessionRecord {
  const record = requireSession(state, id);
  const session = record.session;
  const intent = session.payment_intent
    ? state.paymentIntents.get(session.payment_intent)
    : undefined;
  if (
    session.status !== "complete" || session.payment_status !== "unpaid" || !intent ||
    intent.status !== "processing"
  ) {
    throw invalidRequest(`Checkout Session ${id} has no delayed payment waiting to settle.`);
  }
  const result = outcome ?? record.pendingAsyncOutcome ?? "succeeded";
  record.pendingAsyncOutcome = undefined;
  if (result === "succeeded") {
    chargeFor(state, record, intent);
    session.payment_status = "paid";
    state.emit("checkout.session.async_payment_succeeded", session);
  } else {
    intent.status = "requires_payment_method";
    state.emit("checkout.session.async_payment_failed", session);
  }
  return record;
}

/** Refunds (part of) a paid session's charge and emits `charge.refunded`. */
export function refundSession(
  state: EmulatorState,
  id: string,
  amount: number | undefined,
): Charge {
  const record = requireSession(state, id);
  const intent = record.session.payment_intent
    ? state.paymentIntents.get(record.session.payment_intent)
    : undefined;
  const charge = intent?.latest_charge ? state.charges.get(intent.latest_charge) : undefined;
  if (record.session.payment_status !== "paid" || !charge) {
    throw invalidRequest(`Checkout Session ${id} has no successful charge to refund.`);
  }
  const remaining = charge.amount - charge.amount_refunded;
  const value = amount ?? remaining;
  if (!Number.isInteger(value) || value <= 0 || value > remaining) {
    throw invalidRequest(
      `Refund amount (${value}) must be a positive integer no greater than the unrefunded amount (${remaining}).`,
      "amount",
    );
  }
  charge.amount_refunded += value;
  charge.refunded = charge.amount_refunded === charge.amount;
  charge.refunds.data.unshift({
    id: newId("re"),
    object: "refund",
    amount: value,
    charge: charge.id,
    created: state.clock.now(),
    currency: charge.currency,
    metadata: {},
    payment_intent: charge.payment_intent,
    reason: null,
    status: "succeeded",
  });
  charge.refunds.total_count += 1;
  state.counters.created("refund");
  state.emit("charge.refunded", charge);
  return charge;
}

export function lineItemsList(
  record: SessionRecord,
): { object: "list"; data: LineItem[]; has_more: false; url: string } {
  return {
    object: "list",
    data: record.lineItems,
    has_more: false,
    url: `/v1/checkout/sessions/${record.session.id}/line_items`,
  };
}

/** The session as the API returns it, with `line_items` when expanded. */
export function renderSession(
  record: SessionRecord,
  expand: string[],
): CheckoutSession & { line_items?: ReturnType<typeof lineItemsList> } {
  return expand.includes("line_items")
    ? { ...record.session, line_items: lineItemsList(record) }
    : record.session;
}
