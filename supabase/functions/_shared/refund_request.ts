import { z } from "npm:zod@4.6.7";

/** The reasons Stripe accepts when a refund is created. */
export const REFUND_REASONS = ["duplicate", "fraudulent", "requested_by_customer"] as const;

/** Stripe's ceiling for one amount (8 digits in the smallest currency unit). */
export const MAX_REFUND_AMOUNT = 99_999_999;

export const RefundOrderBody = z.strictObject({
  order_id: z.guid("order_id must be a UUID").transform((id) => id.toLowerCase()),
  amount: z.number("amount must be a number").int("amount must be a whole number")
    .min(1, "amount must be at least 1").max(
      MAX_REFUND_AMOUNT,
      `amount must be at most ${MAX_REFUND_AMOUNT}`,
    ).optional(),
  reason: z.enum(REFUND_REASONS, `reason must be one of ${REFUND_REASONS.join(", ")}`)
    .optional(),
});

export type RefundOrderBodyT = z.infer<typeof RefundOrderBody>;

/** What begin_refund hands over for the Stripe call (stored, so every retry sends the same). */
export const RefundPlan = z.object({
  id: z.guid(),
  order_id: z.guid(),
  payment_intent_id: z.string().min(1),
  amount: z.number().int().positive(),
  currency: z.string(),
  reason: z.enum(REFUND_REASONS).nullable(),
  /** Since the request first claimed its refund (and first called Stripe). */
  age_seconds: z.number().int().nonnegative(),
  /**
   * The operation's key was replaced after Stripe replayed a saved 5xx under it: Stripe may
   * have made the refund under the old key before saving that 500.
   */
  rekeyed: z.boolean(),
});

export type RefundPlanT = z.infer<typeof RefundPlan>;

/** The answer of refund-order (refund_response in SQL), 201 and every replay. */
export const RefundResponse = z.strictObject({
  refund_id: z.string(),
  order_id: z.guid(),
  amount: z.number().int(),
  currency: z.string(),
  status: z.string(),
  order_status: z.string(),
});

export type RefundResponseT = z.infer<typeof RefundResponse>;
