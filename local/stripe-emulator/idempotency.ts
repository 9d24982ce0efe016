/**
 * Stripe's idempotency layer: keys are scoped to the API key, remember the endpoint and the
 * parameters of the first request, and keep its status and body for 24 h of emulator time.
 * A key is claimed (`begin`) only once the request passed parameter validation and starts
 * executing, so a request rejected by validation never touches the store and its key stays
 * free; from the claim on, the key answers 409 until `save` stores the outcome.
 */
import type { EmulatorClock } from "./clock.ts";
import { StripeApiError } from "./errors.ts";

/** Stripe prunes keys once they are at least 24 hours old. */
export const IDEMPOTENCY_RETENTION_SECONDS = 24 * 60 * 60;

export interface SavedResponse {
  status: number;
  body: string;
  requestId: string;
}

interface Entry {
  endpoint: string;
  fingerprint: string;
  createdAt: number;
  response: SavedResponse | undefined;
}

export type IdempotencyLookup =
  | { kind: "new" }
  | { kind: "replay"; response: SavedResponse }
  | { kind: "rejected"; error: StripeApiError };

export class IdempotencyStore {
  #entries = new Map<string, Entry>();

  constructor(private readonly clock: EmulatorClock) {}

  #id(scope: string, key: string): string {
    return `${scope}\u0000${key}`;
  }

  lookup(scope: string, key: string, endpoint: string, fingerprint: string): IdempotencyLookup {
    const id = this.#id(scope, key);
    const entry = this.#entries.get(id);
    if (!entry) return { kind: "new" };
    if (entry.createdAt + IDEMPOTENCY_RETENTION_SECONDS <= this.clock.now()) {
      this.#entries.delete(id);
      return { kind: "new" };
    }
    if (entry.endpoint !== endpoint) {
      return {
        kind: "rejected",
        error: new StripeApiError(
          400,
          "idempotency_error",
          `Keys for idempotent requests can only be used for the same endpoint they were first used for ('${entry.endpoint}' vs '${endpoint}'). Try using a key other than '${key}' if you meant to execute a different request.`,
        ),
      };
    }
    if (entry.fingerprint !== fingerprint) {
      return {
        kind: "rejected",
        error: new StripeApiError(
          400,
          "idempotency_error",
          `Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '${key}' if you meant to execute a different request.`,
        ),
      };
    }
    if (!entry.response) {
      return {
        kind: "rejected",
        error: new StripeApiError(
          409,
          "idempotency_error",
          "There is currently another in-progress request using this Idempotent Key (that probably means you submitted twice, and the other request is still going through): " +
            `${key}. Please try again later.`,
          "idempotency_key_in_use",
        ),
      };
    }
    return { kind: "replay", response: entry.response };
  }

  /** Marks the key as executing; a concurrent request with it now gets 409. */
  begin(scope: string, key: string, endpoint: string, fingerprint: string): void {
    this.#entries.set(this.#id(scope, key), {
      endpoint,
      fingerprint,
      createdAt: this.clock.now(),
      response: undefined,
    });
  }

  save(scope: string, key: string, response: SavedResponse): void {
    const entry = this.#entries.get(this.#id(scope, key));
    if (entry) entry.response = response;
  }

  clear(): void {
    this.#entries.clear();
  }
}
