/**
 * Parameters of `POST /v1/checkout/sessions`: Stripe's validation and normalisation into a
 * `CreateSessionInput`. A failure here is never saved under an idempotency key (see pipeline.ts);
 * the session lifecycle that uses the input lives in checkout.ts.
 */
import { invalidRequest, resourceMissing } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import type { Metadata } from "./objects.ts";
import { arrayOf, checkShape, map, objectOf, Params, scalar } from "./params.ts";

/** Stripe: "anywhere from 30 minutes to 24 hours after Checkout Session creation". */
const MIN_EXPIRY_SECONDS = 30 * 60;
export const MAX_EXPIRY_SECONDS = 24 * 60 * 60;
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
  // No slack, as at Stripe: a client that sends exactly `now + 30 min` computed a moment
  // before the request fails whenever a second boundary falls in between.
  if (expiresAt !== null && expiresAt < now + MIN_EXPIRY_SECONDS) {
    throw invalidRequest(
      "The `expires_at` timestamp must be at least 30 minutes from Checkout Session creation.",
      "expires_at",
    );
  }
  if (expiresAt !== null && expiresAt > now + MAX_EXPIRY_SECONDS) {
    throw invalidRequest(
      "The `expires_at` timestamp must be less than 24 hours from Checkout Session creation.",
      "expires_at",
    );
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
