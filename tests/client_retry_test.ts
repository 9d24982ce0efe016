import assert from "node:assert/strict";
import { backoffDelay, DEFAULT_RETRY_POLICY, parseRetryAfter, retryDelay } from "../client/mod.js";

const policy = { ...DEFAULT_RETRY_POLICY, baseDelayMs: 100, maxDelayMs: 1_000 };

Deno.test("backoff doubles per attempt, stays within [step/2, step] and is capped", () => {
  const steps = [100, 200, 400, 800, 1_000, 1_000];
  steps.forEach((step, index) => {
    const attempt = index + 1;
    assert.equal(backoffDelay(attempt, policy, () => 0), step / 2, `attempt ${attempt} low`);
    assert.equal(backoffDelay(attempt, policy, () => 0.999999), step, `attempt ${attempt} high`);
  });
});

Deno.test("jitter spreads clients that failed together", () => {
  const delays = new Set([0.1, 0.4, 0.7].map((r) => backoffDelay(3, policy, () => r)));
  assert.equal(delays.size, 3);
});

Deno.test("Retry-After is read as seconds or as an HTTP date", () => {
  const now = Date.parse("2026-01-01T00:00:00Z");
  assert.equal(parseRetryAfter("3", now), 3_000);
  assert.equal(parseRetryAfter(" 0 ", now), 0);
  assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now), 5_000);
  assert.equal(parseRetryAfter("Wed, 31 Dec 2025 23:00:00 GMT", now), 0);
  assert.equal(parseRetryAfter(null, now), undefined);
  assert.equal(parseRetryAfter("soon", now), undefined);
});

Deno.test("the wait is never shorter than Retry-After", () => {
  for (const random of [0, 0.5, 0.99]) {
    const delay = retryDelay(1, 2_000, policy, () => random);
    assert.ok(delay >= 2_000 && delay <= 2_000 + policy.baseDelayMs, String(delay));
  }
  // A Retry-After shorter than the backoff step does not shorten the backoff.
  assert.equal(retryDelay(4, 0, policy, () => 0), 400);
  assert.equal(retryDelay(4, undefined, policy, () => 0), 400);
});
