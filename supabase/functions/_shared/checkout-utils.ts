/**
 * Stripe operations made idempotent end to end (README: "The key lifecycle"), in one
 * runner: a claim of the operation in `stripe_idempotency_keys` (which mints its key
 * `operation_type:stable_id:UUID` once) → Stripe, called with that stored key → record
 * the resource, or release the lease (retryable, with a new key after a replayed 5xx),
 * or fail the operation (terminal). Checkout sessions (checkout_flow.ts), their expiry
 * (checkout_expire.ts), Customers (stripe_customer.ts) and refunds (refund_flow.ts) run
 * through it; each operation brings its own claim and fenced writes.
 */
import { call, type FencedWrite, type Rpc, unexpected } from "./db.ts";
import { ApiError, keyInUse, stripeRejected } from "./errors.ts";
import type { WorkOutcome } from "./request_idempotency.ts";
import { isValidStripeKey } from "./stripe_key.ts";

export {
  buildStripeKey,
  isValidStripeKey,
  parseStripeKey,
  StripeKeyError,
  type StripeKeyParts,
} from "./stripe_key.ts";

/**
 * Stripe keeps an idempotency key at least 24 hours. An operation first called longer
 * ago than this may call under a key Stripe has forgotten, and so looks its object up
 * at Stripe first (a Customer by search, a refund by its payment intent's list).
 */
export const STRIPE_KEY_TRUSTED_SECONDS = 20 * 3600;

/** What a Stripe error means for the operation that made the call. */
export interface StripeFailure {
  /** retryable: same key next time (or a new one when `rekey`); terminal: give up. */
  kind: "retryable" | "terminal";
  /** Stripe saved a 5xx under this key and will replay it forever: mint a new key. */
  rekey: boolean;
  status: number | null;
  type: string;
  code: string | null;
  param: string | null;
  message: string;
}

export type StripeCallResult<T> = { ok: true; value: T } | { ok: false; failure: StripeFailure };

/**
 * Network errors, timeouts, dropped connections, 5xx, 409 and 429 are
 * retryable with the same key; a replayed 5xx (`Idempotent-Replayed: true`) can
 * never succeed under that key; any other 4xx is terminal.
 */
export function classifyStripeError(error: unknown): StripeFailure {
  if (error instanceof LookupFailed) {
    return { ...classifyStripeError(error.cause), kind: "retryable", rekey: false };
  }
  const e = error as {
    statusCode?: unknown;
    type?: unknown;
    code?: unknown;
    param?: unknown;
    message?: unknown;
    headers?: Record<string, string> | undefined;
  };
  const status = typeof e.statusCode === "number" ? e.statusCode : null;
  const replayed = e.headers?.["idempotent-replayed"] === "true";
  const retryable = status === null || status >= 500 || status === 409 || status === 429;
  return {
    kind: retryable ? "retryable" : "terminal",
    rekey: status !== null && status >= 500 && replayed,
    status,
    type: typeof e.type === "string" ? e.type : "unknown",
    code: typeof e.code === "string" ? e.code : null,
    param: typeof e.param === "string" ? e.param : null,
    message: typeof e.message === "string" ? e.message : String(error),
  };
}

/**
 * A read an operation makes before its create call (what a key it gave up, or one Stripe may
 * have forgotten, made) failed. Stripe refusing a read is not Stripe refusing the operation,
 * and the object may exist: never terminal, retried under the same key.
 */
export class LookupFailed extends Error {
  override name = "LookupFailed";
  constructor(override readonly cause: unknown) {
    super(`Stripe look-up failed: ${classifyStripeError(cause).message}`);
  }
}

/** Runs a look-up inside an operation's call, its failure a LookupFailed. */
export async function lookUp<T>(read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    throw new LookupFailed(error);
  }
}

/** Calls Stripe with a stored idempotency key; a malformed key never reaches Stripe. */
export async function callStripe<T>(
  idempotencyKey: string,
  call: (options: { idempotencyKey: string }) => Promise<T>,
): Promise<StripeCallResult<T>> {
  if (!isValidStripeKey(idempotencyKey)) {
    throw new Error(`refusing to call Stripe with malformed key ${JSON.stringify(idempotencyKey)}`);
  }
  try {
    return { ok: true, value: await call({ idempotencyKey }) };
  } catch (error) {
    return { ok: false, failure: classifyStripeError(error) };
  }
}

/** A Stripe failure as stored in `last_error` (jsonb). */
export function failureJson(
  failure: StripeFailure,
): Record<string, string | number | boolean | null> {
  return { ...failure, at: new Date().toISOString() };
}

/**
 * One claimed Stripe operation: its stored key, the call, and its fenced writes. A write
 * answers `ok`, `lease_lost`, or a refusal `R` of the operation's own (a checkout's
 * `order_closed`: its order ended while Stripe was called).
 */
export interface StripeOperation<T, R extends string = never> {
  /** The key the claim handed out; every call of this claim sends it. */
  key: string;
  call(options: { idempotencyKey: string }): Promise<T>;
  /**
   * A terminal rejection that saved nothing under the key (one that names a parameter
   * the operation can renew, such as an expiry) is retried once with the same key after
   * `renew` stored the new parameter: "retry", "give_up", "lease_lost" or a refusal.
   */
  renew?(failure: StripeFailure): Promise<"retry" | "give_up" | "lease_lost" | R>;
  record(value: T): Promise<"ok" | "lease_lost" | R>;
  /** Ends the lease, the operation open for a retry (a new key when `failure.rekey`). */
  release(failure: StripeFailure): Promise<unknown>;
  fail(failure: StripeFailure): Promise<"ok" | "lease_lost" | R>;
}

/**
 * How a run ends; `lease_lost`: another holder took the operation over and answers for
 * it; a refusal `R` carries what Stripe made, if it made anything.
 */
export type StripeOperationOutcome<T, R extends string = never> =
  | { outcome: "recorded"; value: T }
  | { outcome: "released"; failure: StripeFailure }
  | { outcome: "failed"; failure: StripeFailure }
  | { outcome: "lease_lost" }
  | ([R] extends [never] ? never : { outcome: R; value: T | undefined });

/** Call Stripe with the stored key, then record, release or fail: never inside a transaction. */
export async function runStripeOperation<T, R extends string = never>(
  op: StripeOperation<T, NoInfer<R>>,
): Promise<StripeOperationOutcome<T, R>> {
  type Outcome = StripeOperationOutcome<T, R>;
  const refused = (reason: R, value?: T) => ({ outcome: reason, value }) as Outcome;
  const call = (options: { idempotencyKey: string }) => op.call(options);
  let result = await callStripe(op.key, call);
  if (!result.ok && result.failure.kind === "terminal" && op.renew) {
    const renewed = await op.renew(result.failure);
    if (renewed === "lease_lost") return { outcome: "lease_lost" };
    if (renewed === "retry") result = await callStripe(op.key, call);
    else if (renewed !== "give_up") return refused(renewed as R);
  }
  if (result.ok) {
    const recorded = await op.record(result.value);
    if (recorded === "ok") return { outcome: "recorded", value: result.value };
    if (recorded === "lease_lost") return { outcome: "lease_lost" };
    return refused(recorded as R, result.value);
  }
  const { failure } = result;
  if (failure.kind === "retryable") {
    // A lost lease changes nothing here: the operation stays open either way.
    await op.release(failure);
    return { outcome: "released", failure };
  }
  const failed = await op.fail(failure);
  if (failed === "ok") return { outcome: "failed", failure };
  if (failed === "lease_lost") return { outcome: "lease_lost" };
  return refused(failed as R);
}

/** The fenced-write arguments of one claimed operation in `stripe_idempotency_keys`. */
export interface ClaimedOperation {
  p_operation_type: string;
  p_operation_id: string;
  p_lease_token: string;
}

/**
 * `release` and `fail` of an operation whose writes are the generic
 * `*_stripe_idempotency` functions (Customers, session expiries).
 */
export function genericWrites(rpc: Rpc, operation: ClaimedOperation): {
  release(failure: StripeFailure): Promise<FencedWrite>;
  fail(failure: StripeFailure): Promise<FencedWrite>;
} {
  return {
    release: (failure) =>
      call(rpc, "release_stripe_idempotency", {
        ...operation,
        p_error: failureJson(failure),
        p_rekey: failure.rekey,
      }),
    fail: (failure) =>
      call(rpc, "fail_stripe_idempotency", { ...operation, p_error: failureJson(failure) }),
  };
}

/**
 * How a run that recorded nothing answers the client, under the request-idempotency
 * wrapper: released → 503 (the operation's release released the client key too);
 * failed → 502 (the operation's fail stored that answer); lease_lost → 409 (whoever
 * took the operation over answers for it).
 */
export function unrecordedOutcome(
  run: Exclude<StripeOperationOutcome<unknown>, { outcome: "recorded" }>,
): WorkOutcome {
  switch (run.outcome) {
    case "released":
      return { outcome: "settled", error: new ApiError("stripe_unavailable", { retryAfter: 1 }) };
    case "failed":
      return { outcome: "settled", error: stripeRejected(run.failure.code) };
    case "lease_lost":
      return { outcome: "refused", error: keyInUse() };
    default:
      return unexpected(run);
  }
}
