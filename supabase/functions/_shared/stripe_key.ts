/**
 * Stripe idempotency keys of the form `operation_type:stable_id:UUID` (README: "The key lifecycle"), e.g.
 * `checkout:create:<order uuid>:<uuid v4>`. The database mints them (one UUID per
 * operation, reused by every retry); these functions state the format, and the
 * functions check every key they are handed before sending it to Stripe.
 */
export interface StripeKeyParts {
  /** `<resource>:<action>`, lower-case letters and underscores. */
  operationType: string;
  /** The operation's stable id, `[A-Za-z0-9_-]{1,128}`. */
  stableId: string;
  /** A UUID v4, lower-case. */
  uuid: string;
}

export const STRIPE_KEY_MAX_LENGTH = 255;

const OPERATION_TYPE = /^[a-z_]+:[a-z_]+$/;
const STABLE_ID = /^[A-Za-z0-9_-]{1,128}$/;
const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export class StripeKeyError extends Error {
  override name = "StripeKeyError";
}

export function buildStripeKey(parts: StripeKeyParts): string {
  const problem = stripeKeyPartsProblem(parts);
  if (problem) throw new StripeKeyError(problem);
  return `${parts.operationType}:${parts.stableId}:${parts.uuid}`;
}

export function parseStripeKey(key: string): StripeKeyParts {
  // operation_type holds exactly one colon and the other parts none, so the key
  // has exactly four colon-separated segments.
  const segments = key.split(":");
  if (segments.length !== 4) {
    throw new StripeKeyError(
      `a Stripe key has 4 ':'-separated segments, got ${segments.length} in ${JSON.stringify(key)}`,
    );
  }
  const [resource, action, stableId, uuid] = segments as [string, string, string, string];
  const parts = { operationType: `${resource}:${action}`, stableId, uuid };
  const problem = stripeKeyPartsProblem(parts);
  if (problem) throw new StripeKeyError(problem);
  return parts;
}

export function isValidStripeKey(key: string): boolean {
  try {
    parseStripeKey(key);
    return true;
  } catch {
    return false;
  }
}

function stripeKeyPartsProblem(parts: StripeKeyParts): string | undefined {
  if (!OPERATION_TYPE.test(parts.operationType)) {
    return `operation_type must match ${OPERATION_TYPE}, got ${
      JSON.stringify(parts.operationType)
    }`;
  }
  if (!STABLE_ID.test(parts.stableId)) {
    return `stable_id must match ${STABLE_ID}, got ${JSON.stringify(parts.stableId)}`;
  }
  if (!UUID_V4.test(parts.uuid)) {
    return `the last part must be a lower-case UUID v4, got ${JSON.stringify(parts.uuid)}`;
  }
  const length = parts.operationType.length + parts.stableId.length + parts.uuid.length + 2;
  if (length > STRIPE_KEY_MAX_LENGTH) {
    return `a Stripe key is at most ${STRIPE_KEY_MAX_LENGTH} characters, got ${length}`;
  }
  return undefined;
}
