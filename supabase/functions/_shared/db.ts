import { createClient, type SupabaseClient } from "npm:@supabase/supabase-js@2.119.1";
import { z } from "npm:zod@4.6.7";
import type { Database, Json } from "./database.types.ts";
import { canonicalJson } from "./canonical_json.ts";
import { OrderSnapshot } from "./order_snapshot.ts";
import { RefundPlan, RefundResponse } from "./refund_request.ts";

/** The functions' only way into Postgres: RPC calls to SQL functions (README, top). */
export type Db = SupabaseClient<Database>;

type Functions = Database["public"]["Functions"];
export type RpcName = keyof Functions & string;
export type RpcArgs<N extends RpcName> = Functions[N]["Args"];

/**
 * One RPC round trip, answering the raw JSON; a database error throws (and becomes a
 * bare 500 upstream). Handlers take this, not a client, so a test can pass its own.
 */
export type Rpc = <N extends RpcName>(name: N, args: RpcArgs<N>) => Promise<unknown>;

/**
 * A client that always acts with the key: `accessToken` answering no session makes
 * supabase-js send the key as the bearer (as it did when its auth client had no session)
 * without asking an auth client for a session on every call, which cost more per RPC than
 * the rest of the client. No function signs users in through this client.
 */
export function createDb(url: string, serviceRoleKey: string): Db {
  return createClient<Database>(url, serviceRoleKey, { accessToken: noSession });
}

const noSession = () => Promise.resolve(null);

/** The `rpc` function of a Supabase client. */
export function rpcOf(db: Db): Rpc {
  return async (name, args) => {
    const { data, error } = await db.rpc(name, args);
    if (error) throw new DbError(name, error.code, error.message);
    return data;
  };
}

export class DbError extends Error {
  override name = "DbError";
  constructor(readonly fn: string, readonly code: string | undefined, message: string) {
    super(`rpc ${fn} failed${code ? ` (${code})` : ""}: ${message}`);
  }
}

const RetryAfter = z.object({ retry_after_seconds: z.number().int().positive() });
const StoredBody = z.record(z.string(), z.unknown());
/** What a fenced write answers: `ok`, or why it changed nothing. */
const FencedWrite = z.enum(["ok", "lease_lost"]);
export type FencedWrite = z.infer<typeof FencedWrite>;
/**
 * A checkout's fenced write also refuses once its order is no longer `pending`
 * (expired or cancelled while the Stripe call ran): `order_closed`.
 */
const CheckoutWrite = z.enum(["ok", "lease_lost", "order_closed"]);
export type CheckoutWrite = z.infer<typeof CheckoutWrite>;

/** The customer-facing fields of an order, as checkout-status answers them. */
const CheckoutStatusFields = z.object({
  order_id: z.uuid(),
  status: z.string(),
  amount_total: z.number().int(),
  currency: z.string(),
  checkout_session_id: z.string(),
});
const CheckoutStatus = z.discriminatedUnion("outcome", [
  CheckoutStatusFields.extend({
    outcome: z.enum(["final", "cached", "lookup", "applied", "failed"]),
  }),
  z.object({ outcome: z.literal("unknown") }),
]);
/** A claimed outbox message: what outbox-dispatch sends, and the lease it holds. */
const ClaimedMessage = z.object({
  id: z.number().int(),
  message_id: z.uuid(),
  topic: z.string(),
  order_id: z.uuid().nullable(),
  created_at: z.string(),
  payload: z.unknown(),
  attempts: z.number().int(),
  lease_token: z.uuid(),
  last_attempt_at: z.string(),
});
const ReconcileState = z.object({
  cursor_event_id: z.string().nullable(),
  cursor_created: z.string().nullable(),
  scan_event_id: z.string().nullable(),
  scan_since: z.string().nullable(),
  scan_oldest_event_id: z.string().nullable(),
});

/** What a claim of a client key answers (claim_idempotency_key). */
const IdempotencyClaim = z.discriminatedUnion("outcome", [
  z.object({ outcome: z.enum(["new", "takeover"]), lease_token: z.uuid() }),
  z.object({
    outcome: z.literal("replay"),
    response_status: z.number().int(),
    response_body: StoredBody,
  }),
  RetryAfter.extend({ outcome: z.literal("in_progress") }),
  z.object({ outcome: z.literal("mismatch") }),
]);
/** What begin_checkout answers. */
const CheckoutBegin = z.discriminatedUnion("outcome", [
  z.object({
    outcome: z.literal("ready"),
    order_snapshot: OrderSnapshot,
    stripe_idempotency_key: z.string(),
    stripe_lease_token: z.uuid(),
  }),
  z.object({ outcome: z.enum(["recorded", "closed"]), order_snapshot: OrderSnapshot }),
  z.object({
    outcome: z.literal("failed"),
    // The operation's last_error: the Stripe code is all a client is told of it.
    details: z.looseObject({ code: z.string().nullable().optional() }).nullable(),
  }),
  RetryAfter.extend({ outcome: z.enum(["in_progress", "lease_lost"]) }),
  z.object({ outcome: z.literal("mismatch") }),
  z.object({ outcome: z.literal("product_unavailable"), details: z.array(z.string()) }),
  z.object({
    outcome: z.enum(["currency_mismatch", "insufficient_stock"]),
    details: z.array(z.record(z.string(), z.unknown())),
  }),
  z.object({
    outcome: z.literal("amount_too_large"),
    details: z.object({ amount_total: z.number(), maximum: z.number() }),
  }),
  RetryAfter.extend({
    outcome: z.literal("too_many_pending_checkouts"),
    details: z.object({
      limit: z.number().int(),
      per: z.enum(["email", "user", "ip"]),
      retry_after_seconds: z.number().int(),
    }),
  }),
]);

/**
 * What each SQL function the functions call answers, parsed at this boundary: a
 * discriminated union on `outcome`, so a `switch` over it is exhaustive.
 */
const OUTCOMES = {
  claim_idempotency_key: IdempotencyClaim,
  complete_idempotency_key: FencedWrite,
  release_idempotency_key: FencedWrite,
  begin_checkout: CheckoutBegin,
  claim_and_begin_checkout: z.object({ claim: IdempotencyClaim, begun: CheckoutBegin.nullable() }),
  refresh_checkout_expiry: CheckoutWrite,
  record_checkout: CheckoutWrite,
  release_checkout: FencedWrite,
  fail_checkout: CheckoutWrite,
  cancel_checkout: z.discriminatedUnion("outcome", [
    z.object({
      outcome: z.enum(["released", "paid"]),
      order_status: z.string(),
      checkout_session_id: z.string().nullable(),
    }),
    // A pending order whose session may still be open: expire it at Stripe, then again.
    z.object({ outcome: z.literal("expire_first"), checkout_session_id: z.string() }),
    z.object({ outcome: z.literal("not_found") }),
  ]),
  begin_customer: z.discriminatedUnion("outcome", [
    z.object({ outcome: z.literal("existing"), stripe_customer_id: z.string() }),
    z.object({
      outcome: z.literal("claimed"),
      stripe_idempotency_key: z.string(),
      stripe_lease_token: z.uuid(),
      email: z.string().nullable(),
      operation_age_seconds: z.number().int(),
      rekeyed: z.boolean(),
    }),
    RetryAfter.extend({ outcome: z.enum(["in_progress", "lease_lost"]) }),
  ]),
  record_customer: z.discriminatedUnion("outcome", [
    z.object({ outcome: z.literal("ok"), stripe_customer_id: z.string() }),
    z.object({ outcome: z.literal("lease_lost") }),
  ]),
  check_stripe_idempotency: z.discriminatedUnion("outcome", [
    z.object({
      outcome: z.literal("claimed"),
      stripe_idempotency_key: z.string(),
      lease_token: z.uuid(),
      metadata: z.record(z.string(), z.unknown()),
    }),
    z.object({ outcome: z.literal("succeeded"), stripe_resource_id: z.string() }),
    RetryAfter.extend({ outcome: z.literal("in_progress") }),
    z.object({ outcome: z.literal("mismatch") }),
  ]),
  record_stripe_idempotency: FencedWrite,
  release_stripe_idempotency: FencedWrite,
  fail_stripe_idempotency: FencedWrite,
  begin_refund: z.discriminatedUnion("outcome", [
    z.object({
      outcome: z.literal("ready"),
      refund: RefundPlan,
      stripe_idempotency_key: z.string(),
      stripe_lease_token: z.uuid(),
    }),
    z.object({ outcome: z.literal("recorded"), refund: RefundResponse }),
    z.object({
      outcome: z.literal("failed"),
      details: z.looseObject({ code: z.string().nullable().optional() }).nullable(),
    }),
    RetryAfter.extend({ outcome: z.enum(["in_progress", "lease_lost"]) }),
    z.object({ outcome: z.literal("mismatch") }),
    z.object({
      outcome: z.enum(["order_not_found", "order_not_refundable", "refund_exceeds_payment"]),
      details: z.record(z.string(), z.unknown()),
    }),
  ]),
  record_refund: z.discriminatedUnion("outcome", [
    z.object({ outcome: z.literal("ok"), response: RefundResponse }),
    z.object({ outcome: z.literal("lease_lost") }),
  ]),
  release_refund: FencedWrite,
  fail_refund: FencedWrite,
  apply_stripe_event: z.discriminatedUnion("outcome", [
    z.object({ outcome: z.enum(["processed", "duplicate", "ignored", "in_flight"]) }),
    z.object({ outcome: z.literal("failed"), attempts: z.number().int(), detail: z.string() }),
  ]),
  // outbox-dispatch
  claim_outbox: z.array(ClaimedMessage),
  complete_outbox: z.enum(["done", "lease_lost"]),
  fail_outbox: z.discriminatedUnion("outcome", [
    z.object({
      outcome: z.literal("retry"),
      attempts: z.number().int(),
      next_attempt_at: z.string(),
    }),
    z.object({ outcome: z.literal("dead"), attempts: z.number().int() }),
    z.object({ outcome: z.literal("lease_lost") }),
  ]),
  // checkout-status
  checkout_status_by_session: CheckoutStatus,
  apply_checkout_session_status: CheckoutStatus,
  // stripe-reconcile
  reconcile_state: ReconcileState,
  advance_reconcile_cursor: ReconcileState,
  save_reconcile_scan: z.null(),
  reset_reconcile_cursor: z.null(),
  finish_reconcile_run: z.null(),
  sessions_to_expire: z.array(z.object({ order_id: z.uuid(), checkout_session_id: z.string() })),
  record_session_closed: z.boolean(),
} satisfies Partial<Record<RpcName, z.ZodType>>;

type Parsed = typeof OUTCOMES;
export type CalledRpc = keyof Parsed;
export type RpcOutcome<N extends CalledRpc> = z.infer<Parsed[N]>;
const SCHEMAS: { [N in CalledRpc]: z.ZodType<RpcOutcome<N>> } = OUTCOMES;

/** One RPC round trip whose answer is checked against the function's schema. */
export async function call<N extends CalledRpc>(
  rpc: Rpc,
  name: N,
  args: RpcArgs<N>,
): Promise<RpcOutcome<N>> {
  const raw = await rpc(name, args);
  const parsed = SCHEMAS[name].safeParse(raw);
  if (!parsed.success) {
    throw new Error(`${name} answered ${JSON.stringify(raw)}: ${z.prettifyError(parsed.error)}`);
  }
  return parsed.data;
}

/** A value as a jsonb argument: a JSON round trip, so what is stored is what was sent. */
export function asJson(value: unknown): Json {
  return JSON.parse(canonicalJson(value));
}

/** The default branch of an exhaustive switch: a missing case is a type error. */
export function unexpected(value: never): never {
  throw new Error(`unexpected outcome ${JSON.stringify(value)}`);
}
