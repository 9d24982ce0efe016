/** What the emulator has seen, for tests that assert "exactly one session was created". */
export type CreatedKind =
  | "checkout_session"
  | "customer"
  | "event"
  | "payment_intent"
  | "charge"
  | "refund"
  | "dispute"
  | "promotion_code";

export interface CountersSnapshot {
  calls: Record<string, number>;
  created: Record<CreatedKind, number>;
  idempotent_replays: number;
  faults_triggered: number;
  webhooks: { attempts: number; successes: number; failures: number };
}

function emptyCreated(): Record<CreatedKind, number> {
  return {
    checkout_session: 0,
    customer: 0,
    event: 0,
    payment_intent: 0,
    charge: 0,
    refund: 0,
    dispute: 0,
    promotion_code: 0,
  };
}

export class Counters {
  #calls = new Map<string, number>();
  #created = emptyCreated();
  replays = 0;
  faults = 0;
  webhookAttempts = 0;
  webhookSuccesses = 0;
  webhookFailures = 0;

  call(route: string): void {
    this.#calls.set(route, (this.#calls.get(route) ?? 0) + 1);
  }

  created(kind: CreatedKind): void {
    this.#created[kind] += 1;
  }

  snapshot(): CountersSnapshot {
    return {
      calls: Object.fromEntries(this.#calls),
      created: { ...this.#created },
      idempotent_replays: this.replays,
      faults_triggered: this.faults,
      webhooks: {
        attempts: this.webhookAttempts,
        successes: this.webhookSuccesses,
        failures: this.webhookFailures,
      },
    };
  }

  reset(): void {
    this.#calls.clear();
    this.#created = emptyCreated();
    this.replays = 0;
    this.faults = 0;
    this.webhookAttempts = 0;
    this.webhookSuccesses = 0;
    this.webhookFailures = 0;
  }
}
