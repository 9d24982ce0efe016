/**
 * Stripe operations made idempotent end to end (SPEC §2, §4):
 * claim the operation in `stripe_idempotency_keys` (which mints its key once) →
 * call Stripe with the stored key → record the resource id, or release the lease
 * (retryable) or fail the operation (terminal).
 */
import type { Stripe } from "./stripe.ts";
import { type Db, rpc } from "./db.ts";
import { ApiError } from "./errors.ts";
import { isValidStripeKey } from "./stripe_key.ts";

export {
  buildStripeKey,
  isValidStripeKey,
  parseStripeKey,
  StripeKeyError,
  type StripeKeyParts,
} from "./stripe_key.ts";

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
 * SPEC §4: network errors, timeouts, dropped connections, 5xx, 409 and 429 are
 * retryable with the same key; a replayed 5xx (`Idempotent-Replayed: true`) can
 * never succeed under that key; any other 4xx is terminal.
 */
export function classifyStripeError(error: unknown): StripeFailure {
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

export interface CustomerDeps {
  db: Db;
  stripe: Stripe;
  leaseSeconds: number;
  sleep?: (ms: number) => Promise<void>;
}

/** The checkout's own request lease, renewed (fenced) by every begin_customer call. */
export interface RequestLease {
  scope: string;
  key: string;
  token: string;
}

/**
 * How long a checkout waits for a concurrent first checkout creating the same
 * Customer. Each poll renews the request lease, so the wait never eats into it.
 */
export const CUSTOMER_WAIT_MS = 5_000;

/**
 * The user's Stripe Customer, created at most once (operation
 * `customer:create:<user id>`): a concurrent first checkout of the same user waits
 * for the creator instead of creating a second Customer.
 */
export async function getOrCreateCustomer(
  deps: CustomerDeps,
  lease: RequestLease,
  user: { id: string; email: string | undefined },
): Promise<string> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const deadline = Date.now() + CUSTOMER_WAIT_MS;
  for (let pause = 50;; pause = Math.min(pause * 2, 500)) {
    const claim = await rpc(deps.db, "begin_customer", {
      p_scope: lease.scope,
      p_idempotency_key: lease.key,
      p_request_lease_token: lease.token,
      p_user_id: user.id,
      p_email: user.email ?? "",
      p_lease_seconds: deps.leaseSeconds,
    });
    if (claim.outcome === "existing" && claim.stripe_customer_id) return claim.stripe_customer_id;
    if (claim.outcome === "lease_lost") {
      throw new ApiError("idempotency_key_in_use", undefined, claim.retry_after_seconds ?? 1);
    }
    if (claim.outcome === "in_progress") {
      if (Date.now() + pause > deadline) {
        throw new ApiError("stripe_unavailable", undefined, claim.retry_after_seconds ?? 1);
      }
      await sleep(pause);
      continue;
    }
    if (claim.outcome !== "claimed" || !claim.stripe_idempotency_key || !claim.stripe_lease_token) {
      throw new Error(`begin_customer answered ${JSON.stringify(claim)}`);
    }
    const stripeLease = claim.stripe_lease_token;
    const operation = { p_operation_type: "customer:create", p_operation_id: user.id };
    const email = claim.email || undefined;
    const result = await callStripe(
      claim.stripe_idempotency_key,
      (options) => deps.stripe.customers.create({ email, metadata: { user_id: user.id } }, options),
    );
    if (result.ok) {
      const customer = await rpc(deps.db, "record_customer", {
        p_user_id: user.id,
        p_stripe_lease_token: stripeLease,
        p_stripe_customer_id: result.value.id,
      });
      if (customer) return customer;
      continue; // our lease was taken over meanwhile: read what the new owner did
    }
    const { failure } = result;
    if (failure.kind === "retryable") {
      await rpc(deps.db, "release_stripe_idempotency", {
        ...operation,
        p_lease_token: stripeLease,
        p_error: failureJson(failure),
        p_rekey: failure.rekey,
      });
      throw new ApiError("stripe_unavailable", undefined, 1);
    }
    await rpc(deps.db, "fail_stripe_idempotency", {
      ...operation,
      p_lease_token: stripeLease,
      p_error: failureJson(failure),
    });
    throw new ApiError("stripe_rejected", { stripe_code: failure.code });
  }
}
