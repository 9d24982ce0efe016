/**
 * What stripe-webhook checks in a verified body before the SQL sees it: the fields the SQL
 * trusts or casts (`created` to a timestamp, amounts to bigint, flags to boolean) have the
 * types Stripe documents, every string is one Postgres can store (jsonb holds no NUL and
 * no lone surrogate), and the nesting is Stripe's, not thousands deep. A body that fails is
 * not a Stripe event: 400 `invalid_event`, nothing written — instead of a database error
 * answered 500 on every retry.
 */
import { z } from "npm:zod@4.6.7";
import { HANDLED_EVENT_TYPES } from "./stripe_event_types.ts";

// 9999-12-31T23:59:59Z, the last second Postgres' to_timestamp takes as a timestamptz here.
const MAX_CREATED = 253_402_300_799;

export const StripeEventShape = z.looseObject({
  id: z.string().max(255).regex(/^evt_[A-Za-z0-9_]+$/),
  type: z.string().max(255).regex(/^[a-z0-9_]+(\.[a-z0-9_]+)+$/),
  created: z.number().int().min(0).max(MAX_CREATED),
  livemode: z.boolean(),
  account: z.string().nullable().optional(),
  data: z.looseObject({ object: z.looseObject({}) }),
});

/** The amounts and flags the SQL casts, on the event's object and a charge's refund list. */
const AMOUNTS = ["amount", "amount_total", "amount_subtotal", "amount_refunded"] as const;
const FLAGS = ["livemode", "refunded"] as const;
const HANDLED: ReadonlySet<string> = new Set(HANDLED_EVENT_TYPES);

/** Why the event cannot be applied as Stripe's, or undefined when it can. */
export function eventProblem(event: unknown): string | undefined {
  const parsed = StripeEventShape.safeParse(event);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return `${issue?.path.join(".") || "(event)"}: ${issue?.message}`;
  }
  const text = unstorableText(event);
  if (text) return text;
  if (!HANDLED.has(parsed.data.type)) return undefined;
  const object = parsed.data.data.object;
  const refunds = (object.refunds as { data?: unknown } | undefined)?.data;
  for (const target of [object, ...(Array.isArray(refunds) ? refunds : [])]) {
    if (typeof target !== "object" || target === null) continue;
    const fields = target as Record<string, unknown>;
    for (const key of AMOUNTS) {
      const value = fields[key];
      if (value != null && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
        return `${key} must be a non-negative integer, got ${JSON.stringify(value)}`;
      }
    }
    for (const key of FLAGS) {
      const value = fields[key];
      if (value != null && typeof value !== "boolean") {
        return `${key} must be a boolean, got ${JSON.stringify(value)}`;
      }
    }
  }
  return undefined;
}

// Stripe's objects nest a handful of levels (a few more with expansions); Postgres' JSON
// parser and JSON.stringify both recurse, so a body nested thousands deep is refused here.
const MAX_DEPTH = 64;

/** A key or string Postgres' jsonb cannot hold, or nesting too deep, found without recursion. */
function unstorableText(value: unknown): string | undefined {
  const pending: [unknown, number][] = [[value, 0]];
  while (pending.length > 0) {
    const [next, depth] = pending.pop() ?? [undefined, 0];
    if (typeof next === "string") {
      if (!storable(next)) return "a string holds NUL or a lone surrogate";
    } else if (typeof next === "object" && next !== null) {
      if (depth >= MAX_DEPTH) return `nested deeper than ${MAX_DEPTH} levels`;
      for (const [key, child] of Object.entries(next)) {
        if (!storable(key)) return "a key holds NUL or a lone surrogate";
        pending.push([child, depth + 1]);
      }
    }
  }
  return undefined;
}

function storable(text: string): boolean {
  return !text.includes("\u0000") && text.isWellFormed();
}
