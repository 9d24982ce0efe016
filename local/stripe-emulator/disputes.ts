/**
 * Disputes (chargebacks) on a paid Charge, driven by the control API: opened with
 * `charge.dispute.created` (status `needs_response`), closed won or lost with
 * `charge.dispute.closed`. A charge has at most one dispute; while it is open or lost the
 * charge cannot be refunded (refunds.ts).
 */
import { invalidRequest, requireObject } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Charge, Dispute } from "./objects.ts";
import type { EmulatorState } from "./state.ts";

/** Stripe's dispute reasons. */
export const DISPUTE_REASONS = [
  "bank_cannot_process",
  "check_returned",
  "credit_not_processed",
  "customer_initiated",
  "debit_not_authorized",
  "duplicate",
  "fraudulent",
  "general",
  "incorrect_account_details",
  "insufficient_funds",
  "product_not_received",
  "product_unacceptable",
  "subscription_canceled",
  "unrecognized",
] as const;
export type DisputeReason = typeof DISPUTE_REASONS[number];

/** How long a merchant has to answer, as shown in `evidence_details.due_by`. */
const EVIDENCE_WINDOW_SECONDS = 7 * 24 * 60 * 60;

export function requireDispute(state: EmulatorState, id: string): Dispute {
  return requireObject(state.disputes, "dispute", id);
}

export function openDispute(
  state: EmulatorState,
  charge: Charge,
  options: { reason?: DisputeReason; amount?: number },
): Dispute {
  const existing = [...state.disputes.values()].find((d) => d.charge === charge.id);
  if (existing) {
    throw invalidRequest(`Charge ${charge.id} already has a dispute (${existing.id}).`, "charge");
  }
  const disputable = charge.amount - charge.amount_refunded;
  const amount = options.amount ?? disputable;
  if (amount < 1 || amount > disputable) {
    throw invalidRequest(
      `Dispute amount must be between 1 and the charge's unrefunded amount (${disputable}), got ${amount}.`,
      "amount",
    );
  }
  const now = state.clock.now();
  const dispute: Dispute = {
    id: newId("dp"),
    object: "dispute",
    amount,
    balance_transactions: [],
    charge: charge.id,
    created: now,
    currency: charge.currency,
    evidence_details: {
      due_by: now + EVIDENCE_WINDOW_SECONDS,
      has_evidence: false,
      past_due: false,
      submission_count: 0,
    },
    is_charge_refundable: false,
    livemode: false,
    metadata: {},
    payment_intent: charge.payment_intent,
    reason: options.reason ?? "fraudulent",
    status: "needs_response",
  };
  state.disputes.set(dispute.id, dispute);
  state.counters.created("dispute");
  charge.disputed = true;
  state.emit("charge.dispute.created", dispute);
  return dispute;
}

export function closeDispute(
  state: EmulatorState,
  id: string,
  outcome: "won" | "lost",
): Dispute {
  const dispute = requireDispute(state, id);
  if (dispute.status !== "needs_response" && dispute.status !== "under_review") {
    throw invalidRequest(`Dispute ${id} is already closed (${dispute.status}).`);
  }
  dispute.status = outcome;
  state.emit("charge.dispute.closed", dispute);
  return dispute;
}
