import { z } from "npm:zod@4.6.7";
import { ApiError } from "./errors.ts";

/** SPEC §4 limits. */
export const MAX_ITEMS = 50;
export const MAX_QUANTITY = 99;

const Item = z.strictObject({
  product_id: z.guid("product_id must be a UUID"),
  quantity: z.number("quantity must be a number").int("quantity must be a whole number")
    .min(1, "quantity must be at least 1").max(
      MAX_QUANTITY,
      `quantity must be at most ${MAX_QUANTITY}`,
    ),
});

const Items = z.array(Item).min(1, "items must hold at least 1 item")
  .max(MAX_ITEMS, `items must hold at most ${MAX_ITEMS} items`)
  .superRefine((items, ctx) => {
    const seen = new Set<string>();
    items.forEach((item, index) => {
      const id = item.product_id.toLowerCase();
      if (seen.has(id)) {
        ctx.addIssue({
          code: "custom",
          path: [index, "product_id"],
          message: "each product may appear once; raise its quantity instead",
        });
      }
      seen.add(id);
    });
  })
  .transform((items) => items.map((i) => ({ ...i, product_id: i.product_id.toLowerCase() })));

const RedirectUrl = z.string("must be a URL").max(2048, "must be at most 2048 characters")
  .refine((v) => {
    try {
      const url = new URL(v);
      return url.protocol === "https:" || url.protocol === "http:";
    } catch {
      return false;
    }
  }, "must be an absolute http(s) URL");

export const GuestCheckoutBody = z.strictObject({
  email: z.email("email must be an email address").max(254, "email must be at most 254 characters"),
  items: Items,
  success_url: RedirectUrl,
  cancel_url: RedirectUrl,
});

export const EnhancedCheckoutBody = z.strictObject({
  items: Items,
  success_url: RedirectUrl,
  cancel_url: RedirectUrl,
  promotion_code: z.string().regex(
    /^promo_[A-Za-z0-9]{1,64}$/,
    "promotion_code must be a promo_… id",
  )
    .optional(),
});

/** Validates a parsed body; every problem is reported with its field path. */
export function validateBody<S extends z.ZodType>(schema: S, body: unknown): z.infer<S> {
  const result = schema.safeParse(body);
  if (!result.success) {
    throw new ApiError(
      "invalid_request",
      result.error.issues.map((issue) => ({
        path: issue.path.map(String).join(".") || "(body)",
        problem: issue.message,
      })),
    );
  }
  return result.data;
}

/** No open redirects: both URLs must be on an allowed origin. */
export function assertAllowedRedirects(
  urls: { success_url: string; cancel_url: string },
  allowedOrigins: readonly string[],
): void {
  const refused = (["success_url", "cancel_url"] as const).filter((field) =>
    !allowedOrigins.includes(new URL(urls[field]).origin)
  );
  if (refused.length > 0) {
    throw new ApiError("redirect_not_allowed", { fields: refused });
  }
}
