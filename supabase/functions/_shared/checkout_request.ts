import { clientIpFrom } from "./client_ip.ts";
import { z } from "npm:zod@4.6.7";
import { ApiError } from "./errors.ts";
import type { VerifiedUser } from "./auth.ts";
import { readJsonBody } from "./http.ts";
import { parseClientKey } from "./client_key.ts";
import { requestFingerprint } from "./fingerprint.ts";

/** The cart limits of the checkout API (README: "The checkout API"). */
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

// The URL parser drops surrounding spaces, tabs and newlines and escapes control
// characters, so a string it accepts may still hold what Postgres text cannot (NUL, a lone
// surrogate) or what Stripe would refuse: such a string is refused as it was sent.
// deno-lint-ignore no-control-regex
const UNSENDABLE = /[\x00-\x20\x7f]/;

const RedirectUrl = z.string("must be a URL").max(2048, "must be at most 2048 characters")
  .refine(
    (v) => !UNSENDABLE.test(v) && v.isWellFormed(),
    "must not hold spaces, control characters or lone surrogates",
  )
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
    throw new ApiError("invalid_request", {
      details: result.error.issues.map((issue) => ({
        path: issue.path.map(String).join(".") || "(body)",
        problem: issue.message,
      })),
    });
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
    throw new ApiError("redirect_not_allowed", { details: { fields: refused } });
  }
}

/** The client's key, or 400 idempotency_key_missing / idempotency_key_invalid. */
export function requireClientKey(headers: Headers): string {
  const key = parseClientKey(headers);
  if (!key.ok) {
    throw new ApiError(
      key.problem === "missing" ? "idempotency_key_missing" : "idempotency_key_invalid",
      { details: { reason: key.reason } },
    );
  }
  return key.key;
}

/** Where a caller's client keys live: `user:<uuid>` for a signed-in user, else `guest`. */
export function scopeOf(user: VerifiedUser | undefined): string {
  return user ? `user:${user.id}` : "guest";
}

/** Who is checking out and with what, once the request has been validated. */
export interface Checkout {
  scope: string;
  clientKey: string;
  fingerprint: string;
  user: VerifiedUser | undefined;
  email: string | undefined;
  items: { product_id: string; quantity: number }[];
  success_url: string;
  cancel_url: string;
  promotion_code: string | undefined;
  /** The first x-forwarded-for hop, for the per-IP limit of open checkouts. */
  clientIp: string | undefined;
}

/**
 * The validate phase after the user is known: the client key, the body (read within its
 * limits, then its schema), the redirects, and the fingerprint. Nothing is written.
 */
export async function validateCheckout(
  req: Request,
  user: VerifiedUser | undefined,
  schema: typeof GuestCheckoutBody | typeof EnhancedCheckoutBody,
  allowedOrigins: readonly string[],
): Promise<Checkout> {
  const clientKey = requireClientKey(req.headers);
  const body = validateBody(schema, await readJsonBody(req));
  assertAllowedRedirects(body, allowedOrigins);
  const scope = scopeOf(user);
  return {
    scope,
    clientKey,
    fingerprint: requestFingerprint(scope, body),
    user,
    email: "email" in body ? body.email : user?.email,
    items: body.items,
    success_url: body.success_url,
    cancel_url: body.cancel_url,
    promotion_code: "promotion_code" in body ? body.promotion_code : undefined,
    clientIp: clientIpFrom(req.headers),
  };
}
