// @ts-check
/**
 * When to try a checkout request again, and how long to wait: bounded exponential backoff
 * with jitter, and the server's `Retry-After` as a floor.
 */

/**
 * @typedef {object} RetryPolicy
 * @property {number} maxAttempts attempts in all, the first included
 * @property {number} baseDelayMs the first backoff step
 * @property {number} maxDelayMs no backoff step is longer
 * @property {number} maxRetryAfterMs a longer `Retry-After` is cut to this
 */

/** @type {Readonly<RetryPolicy>} */
export const DEFAULT_RETRY_POLICY = Object.freeze({
  // 250 ms · 2^n, capped at 8 s (a cap the default never reaches): the five waits between
  // six attempts are steps of 250, 500, 1000, 2000 and 4000 ms, so with jitter they add up
  // to 3.9–7.75 s (a longer `Retry-After` can stretch any one of them), longer than a Stripe
  // blip and shorter than a shopper's patience.
  maxAttempts: 6,
  baseDelayMs: 250,
  maxDelayMs: 8_000,
  // Longer `Retry-After`s are cut to this: the server's is the end of its lease
  // (IDEMPOTENCY_LEASE_SECONDS, 60), the worst case, while the holder usually finishes in
  // about a second.
  maxRetryAfterMs: 10_000,
});

/**
 * "Equal jitter": half the exponential step, plus a random part of the other half, so
 * clients that failed together do not retry together, and no retry comes immediately.
 *
 * @param {number} attempt 1 after the first failure, 2 after the second, …
 * @param {RetryPolicy} policy
 * @param {() => number} random in [0, 1)
 * @returns {number} milliseconds
 */
export function backoffDelay(attempt, policy, random) {
  const step = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (attempt - 1));
  return Math.round(step / 2 + random() * (step / 2));
}

/**
 * `Retry-After` as milliseconds from now: delta-seconds or an HTTP date (RFC 9110 §10.2.3).
 *
 * @param {string | null} value
 * @param {number} nowMs
 * @returns {number | undefined}
 */
export function parseRetryAfter(value, nowMs) {
  if (value === null) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - nowMs);
}

/**
 * The wait before the next attempt: at least `Retry-After` when the server sent one (plus a
 * little jitter, so the waiting clients do not arrive in step), else the backoff step.
 *
 * @param {number} attempt
 * @param {number | undefined} retryAfterMs
 * @param {RetryPolicy} policy
 * @param {() => number} random
 * @returns {number}
 */
export function retryDelay(attempt, retryAfterMs, policy, random) {
  const backoff = backoffDelay(attempt, policy, random);
  if (retryAfterMs === undefined) return backoff;
  return Math.max(backoff, retryAfterMs + Math.round(random() * policy.baseDelayMs));
}
