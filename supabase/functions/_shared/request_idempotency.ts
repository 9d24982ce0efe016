/**
 * Request-level idempotency for any HTTP function (README: "Request idempotency"):
 * claim (scope, client key, fingerprint) → replay a stored answer, or refuse with 409
 * (in use, Retry-After) or 422 (reused with another body) → run the work under the
 * lease → store its answer for replay, or release the key, by one policy. A caller may
 * claim with its own SQL function whose first step of the work rides on the claim's
 * transaction (checkout: claim_and_begin_checkout), saving a round trip.
 */
import { asJson, call, type Rpc, type RpcOutcome, unexpected } from "./db.ts";
import { ApiError, errorBody, errorResponse, jsonResponse, keyInUse, statusOf } from "./errors.ts";

export interface RequestIdempotencyDeps {
  rpc: Rpc;
  leaseSeconds: number;
  ttlSeconds: number;
}

/** The wrapper's settings as a function's configuration states them (IDEMPOTENCY_*). */
export function requestIdempotencyDeps(
  rpc: Rpc,
  config: { IDEMPOTENCY_LEASE_SECONDS: number; IDEMPOTENCY_KEY_TTL_HOURS: number },
): RequestIdempotencyDeps {
  return {
    rpc,
    leaseSeconds: config.IDEMPOTENCY_LEASE_SECONDS,
    ttlSeconds: config.IDEMPOTENCY_KEY_TTL_HOURS * 3600,
  };
}

/** One client request: who (scope), the client's key, and what it asked (fingerprint). */
export interface IdempotentRequest {
  scope: string;
  key: string;
  fingerprint: string;
}

/** A held request lease: only its holder may store or release the key. */
export interface RequestLease {
  scope: string;
  key: string;
  token: string;
}

type KeyClaim = RpcOutcome<"claim_idempotency_key">;
type Held = Extract<KeyClaim, { outcome: "new" | "takeover" }>;

/**
 * What a claim answers, as claim_idempotency_key does; a held lease also carries `first`,
 * what the work's first step answered in the claim's own transaction (undefined when the
 * claim is claim_idempotency_key alone).
 */
export type Claim<F> = Exclude<KeyClaim, Held> | (Held & { first: F });
export type ClaimStep<F> = (request: IdempotentRequest) => Promise<Claim<F>>;

/** The plain claim: claim_idempotency_key, and the work does all of its steps itself. */
export function claimKey(deps: RequestIdempotencyDeps): ClaimStep<undefined> {
  return async (request) => {
    const claim = await call(deps.rpc, "claim_idempotency_key", {
      p_scope: request.scope,
      p_key: request.key,
      p_request_fingerprint: request.fingerprint,
      p_lease_seconds: deps.leaseSeconds,
      p_ttl_seconds: deps.ttlSeconds,
    });
    return withFirst(claim, undefined);
  };
}

/** A claim's answer as a claim step's: a held lease carries `first`, a refusal nothing. */
export function withFirst<F>(claim: KeyClaim, first: F): Claim<F> {
  switch (claim.outcome) {
    case "new":
    case "takeover":
      return { ...claim, first };
    default:
      return claim;
  }
}

/**
 * How the work under the lease ends. `answer` and `refused` are stored or released by
 * the wrapper; `stored` and `settled` were already written by the work's own SQL, in
 * the same transaction as its effect, and are only answered.
 */
export type WorkOutcome =
  | { outcome: "answer"; status: number; body: unknown }
  | { outcome: "refused"; error: ApiError }
  | { outcome: "stored"; status: number; body: unknown }
  | { outcome: "settled"; error: ApiError };

/**
 * Which answers are stored for replay: every status below 500, and the terminal 502
 * stripe_rejected (Stripe will not change its mind). A 409 in-use belongs to another
 * request and is never stored; anything else releases the key so a retry runs again.
 */
export function isStoredAnswer(error: ApiError): boolean {
  if (error.code === "idempotency_key_in_use") return false;
  return statusOf(error.code) < 500 || error.code === "stripe_rejected";
}

/**
 * Runs `work` at most once per (scope, key) to a stored answer. Claim refusals are
 * thrown as ApiError for the caller's one error mapping; everything after the claim
 * answers here, and the lease always ends stored or released, never left to expire
 * (unless the database itself fails, when the lease's expiry does it). `claim` is
 * `claimKey(deps)` unless the caller combines the claim with the work's first step,
 * whose answer `work` then gets as `first`.
 */
export async function withRequestIdempotency<F = undefined>(
  deps: RequestIdempotencyDeps,
  request: IdempotentRequest,
  work: (lease: RequestLease, first: F) => Promise<WorkOutcome>,
  headers: Headers,
  claimStep?: ClaimStep<F>,
): Promise<Response> {
  // Without a combined claim, F is undefined: what claimKey hands the work.
  const claim = await (claimStep ?? (claimKey(deps) as ClaimStep<unknown> as ClaimStep<F>))(
    request,
  );
  switch (claim.outcome) {
    case "replay":
      return replay(claim.response_status, claim.response_body, headers);
    case "in_progress":
      throw keyInUse(claim.retry_after_seconds);
    case "mismatch":
      throw new ApiError("idempotency_key_reused");
    case "new":
    case "takeover":
      break;
    default:
      return unexpected(claim);
  }
  const lease = { scope: request.scope, key: request.key, token: claim.lease_token };

  let outcome: WorkOutcome;
  try {
    outcome = await work(lease, claim.first);
  } catch (error) {
    if (!(error instanceof ApiError)) {
      await settle(deps.rpc, lease, undefined);
      return errorResponse(error, headers);
    }
    outcome = { outcome: "refused", error };
  }
  switch (outcome.outcome) {
    case "answer":
      await settle(deps.rpc, lease, { status: outcome.status, body: outcome.body });
      return jsonResponse(outcome.status, outcome.body, headers);
    case "refused": {
      const { error } = outcome;
      const stored = isStoredAnswer(error)
        ? { status: statusOf(error.code), body: errorBody(error.code, error.details) }
        : undefined;
      await settle(deps.rpc, lease, stored);
      return errorResponse(error, headers);
    }
    case "stored":
      return jsonResponse(outcome.status, outcome.body, headers);
    case "settled":
      return errorResponse(outcome.error, headers);
    default:
      return unexpected(outcome);
  }
}

/** Stores the answer (or releases the key when there is none), fenced by the lease. */
async function settle(
  rpc: Rpc,
  lease: RequestLease,
  answer: { status: number; body: unknown } | undefined,
): Promise<void> {
  const key = { p_scope: lease.scope, p_key: lease.key, p_lease_token: lease.token };
  try {
    // 'lease_lost' needs nothing more: whoever holds the key now answers for it.
    if (answer) {
      await call(rpc, "complete_idempotency_key", {
        ...key,
        p_response_status: answer.status,
        p_response_body: asJson(answer.body),
      });
    } else {
      await call(rpc, "release_idempotency_key", key);
    }
  } catch (error) {
    // The lease expires on its own; the client's retry then takes over.
    console.error("could not settle the idempotency key", error);
  }
}

function replay(status: number, body: unknown, cors: Headers): Response {
  const headers = new Headers(cors);
  headers.set("idempotent-replayed", "true");
  const retryAfter = storedRetryAfter(body);
  if (retryAfter !== undefined) headers.set("retry-after", String(retryAfter));
  // The first answer was 201 Created; its replay creates nothing.
  return jsonResponse(status === 201 ? 200 : status, body, headers);
}

/**
 * The Retry-After a stored error answer was sent with: only its body is stored, and a
 * refusal that says when to retry (429 too_many_pending_checkouts) names the same seconds
 * in `details.retry_after_seconds`. The seconds are those of the first answer, as the body is.
 */
function storedRetryAfter(body: unknown): number | undefined {
  const seconds = field(field(field(body, "error"), "details"), "retry_after_seconds");
  return Number.isSafeInteger(seconds) && (seconds as number) > 0 ? seconds as number : undefined;
}

function field(value: unknown, name: string): unknown {
  return typeof value === "object" && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)[name]
    : undefined;
}
