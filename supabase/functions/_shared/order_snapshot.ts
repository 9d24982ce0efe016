import { z } from "npm:zod@4.6.7";

/** The order as `public.order_snapshot()` returns it (jsonb). */
export const OrderSnapshot = z.object({
  id: z.string(),
  status: z.string(),
  email: z.string().nullable(),
  currency: z.string(),
  amount_subtotal: z.number().int(),
  amount_total: z.number().int(),
  success_url: z.string(),
  cancel_url: z.string(),
  stripe_customer_id: z.string().nullable(),
  promotion_code: z.string().nullable(),
  checkout_session_id: z.string().nullable(),
  checkout_url: z.string().nullable(),
  checkout_expires_at: z.number().int(),
  items: z.array(z.object({
    product_id: z.string(),
    name: z.string(),
    quantity: z.number().int(),
    unit_amount: z.number().int(),
  })),
  /** Keys its open checkout:create operation gave up after Stripe saved a 5xx under them. */
  superseded_checkout_keys: z.array(z.string()).default([]),
  /** When that operation was first claimed (unix seconds); null when none is open. */
  checkout_started_at: z.number().int().nullable().default(null),
  /** When that operation last re-keyed (unix seconds); null before any re-key was timed. */
  checkout_superseded_at: z.number().int().nullable().default(null),
});

export type OrderSnapshotT = z.infer<typeof OrderSnapshot>;
