/**
 * Checkout Sessions' lifecycle: creation from validated parameters (checkout_params.ts), then
 * completion, expiry and delayed-payment settlement driven by the hosted page, the clock and
 * the control API.
 */
import { type CreateSessionInput, MAX_EXPIRY_SECONDS } from "./checkout_params.ts";
import { invalidRequest, resourceMissing, StripeApiError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Charge, CheckoutSession, LineItem, PaymentIntent } from "./objects.ts";
import type { EmulatorState, RequestContext, SessionRecord } from "./state.ts";
import { NO_REQUEST } from "./state.ts";
import type { FormRecord } from "./form.ts";
import { arrayOf, checkShape, objectOf, Params, scalar } from "./params.ts";

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
    disputed: false,
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

const listSessionsShape = objectOf({
  created: objectOf({ gt: scalar, gte: scalar, lt: scalar, lte: scalar }),
  status: scalar,
  limit: scalar,
  starting_after: scalar,
  expand: arrayOf(scalar),
});

/**
 * `GET /v1/checkout/sessions`: newest first, with Stripe's `created` range and `status`
 * filters and the `starting_after` cursor the SDK's auto-pagination uses.
 */
export function prepareListSessions(form: FormRecord): (state: EmulatorState) => unknown {
  checkShape(form, listSessionsShape, "");
  const p = new Params(form);
  const created = p.child("created");
  const gt = created?.integer("gt");
  const gte = created?.integer("gte");
  const lt = created?.integer("lt");
  const lte = created?.integer("lte");
  const status = p.string("status");
  if (status !== undefined && !["open", "complete", "expired"].includes(status)) {
    throw invalidRequest(
      `Invalid status: must be one of open, complete, or expired`,
      "status",
    );
  }
  const limit = p.integer("limit", { min: 1, max: 100 }) ?? 10;
  const after = p.string("starting_after");
  return (state) => {
    const all = [...state.sessions.values()].map((record) => record.session).reverse();
    let data = all;
    if (after !== undefined) {
      const at = all.findIndex((session) => session.id === after);
      if (at < 0) throw invalidRequest(`No such checkout.session: '${after}'`, "starting_after");
      data = all.slice(at + 1);
    }
    data = data.filter((s) =>
      (gt === undefined || s.created > gt) && (gte === undefined || s.created >= gte) &&
      (lt === undefined || s.created < lt) && (lte === undefined || s.created <= lte) &&
      (status === undefined || s.status === status)
    );
    return {
      object: "list",
      data: data.slice(0, limit),
      has_more: data.length > limit,
      url: "/v1/checkout/sessions",
    };
  };
}
