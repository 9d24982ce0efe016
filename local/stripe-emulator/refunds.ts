/**
 * Refunds of a paid session's Charge: `POST /v1/refunds` (the API, idempotent like every POST),
 * the Dashboard and legacy session refunds of the control API, and a refund failing later.
 * `amount_refunded` counts pending and succeeded refunds; a failed refund gives its amount back.
 */
import { invalidRequest, requireObject } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import { newId } from "./ids.ts";
import type { Charge, Metadata, PaymentIntent, Refund, RefundReason } from "./objects.ts";
import { arrayOf, checkShape, map, objectOf, Params, scalar } from "./params.ts";
import type { EmulatorState, RequestContext } from "./state.ts";
import { NO_REQUEST } from "./state.ts";
import { requireSession } from "./checkout.ts";

export const REFUND_REASONS: readonly RefundReason[] = [
  "duplicate",
  "fraudulent",
  "requested_by_customer",
];

/** Stripe's `failure_reason` values for a refund that fails after it was accepted. */
export const REFUND_FAILURE_REASONS = [
  "lost_or_stolen_card",
  "expired_or_canceled_card",
  "charge_for_pending_refund_disputed",
  "insufficient_funds",
  "declined",
  "merchant_request",
  "unknown",
] as const;
export type RefundFailureReason = typeof REFUND_FAILURE_REASONS[number];

const createRefundShape = objectOf({
  charge: scalar,
  payment_intent: scalar,
  amount: scalar,
  reason: scalar,
  metadata: map,
  instructions_email: scalar,
  origin: scalar,
  refund_application_fee: scalar,
  reverse_transfer: scalar,
  expand: arrayOf(scalar),
});

export interface RefundInput {
  charge: string | undefined;
  paymentIntent: string | undefined;
  amount: number | undefined;
  reason: RefundReason | null;
  metadata: Metadata;
}

/**
 * Which events a refund emits: Stripe's (`refund.created`, then `charge.refunded`), or only
 * `charge.refunded`, which is all the legacy `/_emulator/sessions/:id/refund` ever sent.
 */
export type RefundEvents = "stripe" | "charge_refunded_only";

/** Parameter validation for `POST /v1/refunds` (never saved under an idempotency key). */
export function parseCreateRefund(form: FormRecord): RefundInput {
  checkShape(form, createRefundShape, "");
  const p = new Params(form);
  const charge = p.string("charge");
  const paymentIntent = p.string("payment_intent");
  if (charge === undefined && paymentIntent === undefined) {
    throw invalidRequest(
      "One of the following params should be provided for this request: charge or payment_intent.",
    );
  }
  const expand = p.strings("expand");
  if (expand[0] !== undefined) {
    throw invalidRequest(`This property cannot be expanded (${expand[0]}).`, "expand[0]");
  }
  return {
    charge,
    paymentIntent,
    amount: p.integer("amount", { min: 1 }),
    reason: p.oneOf("reason", REFUND_REASONS) ?? null,
    metadata: p.metadata("metadata"),
  };
}

export function requireCharge(state: EmulatorState, id: string): Charge {
  return requireObject(state.charges, "charge", id);
}

export function requirePaymentIntent(state: EmulatorState, id: string): PaymentIntent {
  return requireObject(state.paymentIntents, "payment_intent", id);
}

export function requireRefund(state: EmulatorState, id: string): Refund {
  return requireObject(state.refunds, "refund", id);
}

const listRefundsShape = objectOf({
  payment_intent: scalar,
  charge: scalar,
  limit: scalar,
  starting_after: scalar,
  expand: arrayOf(scalar),
});

/**
 * `GET /v1/refunds`: newest first, filtered by `payment_intent` or `charge`, paged with
 * `limit` (1-100, default 10) and `starting_after`.
 */
export function prepareListRefunds(form: FormRecord): (state: EmulatorState) => unknown {
  checkShape(form, listRefundsShape, "");
  const p = new Params(form);
  const paymentIntent = p.string("payment_intent");
  const charge = p.string("charge");
  const limit = p.integer("limit", { min: 1, max: 100 }) ?? 10;
  const after = p.string("starting_after");
  return (state) => {
    let data = [...state.refunds.values()].reverse().filter((refund) =>
      (paymentIntent === undefined || refund.payment_intent === paymentIntent) &&
      (charge === undefined || refund.charge === charge)
    );
    if (after !== undefined) {
      const at = data.findIndex((refund) => refund.id === after);
      if (at < 0) throw invalidRequest(`No such refund: '${after}'`, "starting_after");
      data = data.slice(at + 1);
    }
    return {
      object: "list",
      data: data.slice(0, limit),
      has_more: data.length > limit,
      url: "/v1/refunds",
    };
  };
}

/** The charge a refund request names, checked the way Stripe checks it (errors are saved). */
function chargeToRefund(state: EmulatorState, input: RefundInput): Charge {
  let intentCharge: string | undefined;
  if (input.paymentIntent !== undefined) {
    const intent = requireObject(
      state.paymentIntents,
      "payment_intent",
      input.paymentIntent,
      "payment_intent",
      400,
    );
    const latest = intent.latest_charge ? state.charges.get(intent.latest_charge) : undefined;
    if (intent.status !== "succeeded" || latest?.status !== "succeeded") {
      throw invalidRequest(
        "This PaymentIntent does not have a successful charge to refund.",
        "payment_intent",
      );
    }
    intentCharge = latest.id;
  }
  const charge = requireObject(
    state.charges,
    "charge",
    input.charge ?? intentCharge ?? "",
    "charge",
    400,
  );
  if (intentCharge !== undefined && intentCharge !== charge.id) {
    throw invalidRequest(
      `The charge ${charge.id} does not belong to the PaymentIntent ${input.paymentIntent}.`,
      "charge",
    );
  }
  return charge;
}

/** "$42.00", "¥4,200": how Stripe's refund errors print amounts. */
function money(amount: number, currency: string): string {
  const format = new Intl.NumberFormat("en-US", {
    style: "currency",
    currency: currency.toUpperCase(),
  });
  return format.format(amount / 10 ** (format.resolvedOptions().maximumFractionDigits ?? 2));
}

function hasOpenOrLostDispute(state: EmulatorState, charge: Charge): boolean {
  for (const dispute of state.disputes.values()) {
    if (dispute.charge === charge.id && !["won", "warning_closed"].includes(dispute.status)) {
      return true;
    }
  }
  return false;
}

function refreshRefunded(charge: Charge): void {
  charge.refunded = charge.amount_refunded === charge.amount;
}

/** Refunds `amount` (default: all that is left) of a charge, emitting the events asked for. */
export function refundCharge(
  state: EmulatorState,
  charge: Charge,
  options: {
    amount: number | undefined;
    reason?: RefundReason | null;
    metadata?: Metadata;
    request?: RequestContext;
    events?: RefundEvents;
  },
): Refund {
  const remaining = charge.amount - charge.amount_refunded;
  if (remaining <= 0) {
    throw invalidRequest(
      `Charge ${charge.id} has already been refunded (unrefunded amount: ${
        money(0, charge.currency)
      }).`,
      undefined,
      "charge_already_refunded",
    );
  }
  if (hasOpenOrLostDispute(state, charge)) {
    throw invalidRequest(
      `Charge ${charge.id} has been charged back; you cannot issue a refund for it.`,
      undefined,
      "charge_disputed",
    );
  }
  const amount = options.amount ?? remaining;
  if (amount > remaining) {
    throw invalidRequest(
      `Refund amount (${
        money(amount, charge.currency)
      }) is greater than unrefunded amount on charge (${money(remaining, charge.currency)})`,
      "amount",
      "amount_too_large",
    );
  }
  const refund: Refund = {
    id: newId("re"),
    object: "refund",
    amount,
    balance_transaction: null,
    charge: charge.id,
    created: state.clock.now(),
    currency: charge.currency,
    destination_details: null,
    failure_reason: null,
    metadata: options.metadata ?? {},
    payment_intent: charge.payment_intent,
    reason: options.reason ?? null,
    receipt_number: null,
    source_transfer_reversal: null,
    status: "succeeded",
    transfer_reversal: null,
  };
  state.refunds.set(refund.id, refund);
  state.counters.created("refund");
  charge.amount_refunded += amount;
  refreshRefunded(charge);
  charge.refunds.data.unshift(refund);
  charge.refunds.total_count += 1;
  const request = options.request ?? NO_REQUEST;
  if ((options.events ?? "stripe") === "stripe") state.emit("refund.created", refund, request);
  state.emit("charge.refunded", charge, request);
  return refund;
}

/** `POST /v1/refunds`, once its parameters passed validation. */
export function createRefund(
  state: EmulatorState,
  input: RefundInput,
  request: RequestContext,
): Refund {
  return refundCharge(state, chargeToRefund(state, input), {
    amount: input.amount,
    reason: input.reason,
    metadata: input.metadata,
    request,
  });
}

/** The successful charge of a paid Checkout Session. */
export function sessionCharge(state: EmulatorState, sessionId: string): Charge {
  const record = requireSession(state, sessionId);
  const intent = record.session.payment_intent
    ? state.paymentIntents.get(record.session.payment_intent)
    : undefined;
  const charge = intent?.latest_charge ? state.charges.get(intent.latest_charge) : undefined;
  if (record.session.payment_status !== "paid" || !charge) {
    throw invalidRequest(`Checkout Session ${sessionId} has no successful charge.`);
  }
  return charge;
}

/** A refund that was accepted fails later (bank declines it): Stripe's three events follow. */
export function failRefund(
  state: EmulatorState,
  id: string,
  failureReason: RefundFailureReason,
): Refund {
  const refund = requireRefund(state, id);
  if (refund.status !== "succeeded" && refund.status !== "pending") {
    throw invalidRequest(
      `Refund ${id} has status ${refund.status}; only a pending or succeeded refund can fail.`,
    );
  }
  const charge = requireCharge(state, refund.charge);
  const previous = { status: refund.status, failure_reason: null };
  refund.status = "failed";
  refund.failure_reason = failureReason;
  charge.amount_refunded -= refund.amount;
  refreshRefunded(charge);
  state.emit("refund.failed", refund);
  state.emit("refund.updated", refund, NO_REQUEST, previous);
  state.emit("charge.refund.updated", refund, NO_REQUEST, previous);
  return refund;
}
