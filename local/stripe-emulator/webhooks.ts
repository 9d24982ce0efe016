/**
 * Delivery of events to the webhook endpoint: signed as Stripe signs, retried on a compressed
 * backoff schedule until a 2xx, switchable off so tests can deliver by hand in any order.
 */
import type { Counters } from "./counters.ts";
import type { StripeEvent } from "./objects.ts";
import { signatureHeader } from "./signing.ts";
import type { TimerSet } from "./timers.ts";

/** Stripe's real schedule spans three days; tests need the same shape in milliseconds. */
export const DEFAULT_RETRY_DELAYS_MS = [100, 200, 400, 800, 1600];

/** Stripe gives an endpoint a few seconds to answer; a hung receiver must not pin a delivery. */
const DELIVERY_TIMEOUT_MS = 10_000;

export interface DeliveryRecord {
  event_id: string;
  type: string;
  attempt: number;
  automatic: boolean;
  /** HTTP status, or 0 when no response arrived (connection refused, timeout). */
  status: number;
  error?: string;
  at: string;
}

export interface DispatcherOptions {
  secret: string;
  endpoint: string | undefined;
  retryDelaysMs: number[];
  timers: TimerSet;
  counters: Counters;
  log: (message: string) => void;
}

export class WebhookDispatcher {
  endpoint: string | undefined;
  auto = true;
  readonly deliveries: DeliveryRecord[] = [];
  #inFlight = new Set<Promise<void>>();
  /** Bumped by reset so retries of events from before the reset stop. */
  #generation = 0;

  constructor(private readonly options: DispatcherOptions) {
    this.endpoint = options.endpoint;
  }

  get pending(): number {
    return this.#inFlight.size;
  }

  /** Called for every new event: delivers it in the background when automatic delivery is on. */
  onEvent(event: StripeEvent): void {
    if (!this.auto || !this.endpoint) return;
    const endpoint = this.endpoint;
    const run = this.#deliverWithRetries(event, endpoint).finally(() => this.#inFlight.delete(run));
    this.#inFlight.add(run);
  }

  async #deliverWithRetries(event: StripeEvent, endpoint: string): Promise<void> {
    const delays = this.options.retryDelaysMs;
    const generation = this.#generation;
    for (let attempt = 1; attempt <= delays.length + 1; attempt++) {
      if (this.options.timers.signal.aborted || generation !== this.#generation) return;
      const status = await this.#attempt(event, endpoint, attempt, true);
      if (status >= 200 && status < 300) return;
      const delay = delays[attempt - 1];
      if (delay === undefined) break;
      await this.options.timers.sleep(delay);
    }
    this.options.log(
      `webhook ${event.id} (${event.type}) gave up after ${delays.length + 1} attempts`,
    );
  }

  /** One delivery attempt outside the automatic schedule (control API). */
  deliverOnce(event: StripeEvent): Promise<number> {
    if (!this.endpoint) return Promise.resolve(0);
    const attempt = this.deliveries.filter((d) => d.event_id === event.id).length + 1;
    const run = this.#attempt(event, this.endpoint, attempt, false);
    const tracked = run.then(() => {}).finally(() => this.#inFlight.delete(tracked));
    this.#inFlight.add(tracked);
    return run;
  }

  async #attempt(
    event: StripeEvent,
    endpoint: string,
    attempt: number,
    automatic: boolean,
  ): Promise<number> {
    const payload = JSON.stringify(event, null, 2);
    const signature = await signatureHeader(this.options.secret, payload);
    const deadline = this.options.timers.deadline(DELIVERY_TIMEOUT_MS);
    const record: DeliveryRecord = {
      event_id: event.id,
      type: event.type,
      attempt,
      automatic,
      status: 0,
      at: new Date().toISOString(),
    };
    this.options.counters.webhookAttempts += 1;
    try {
      const response = await fetch(endpoint, {
        method: "POST",
        headers: {
          "content-type": "application/json; charset=utf-8",
          "stripe-signature": signature,
          "user-agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        },
        body: payload,
        signal: deadline.signal,
      });
      record.status = response.status;
      await response.body?.cancel();
    } catch (error) {
      record.error = error instanceof Error ? error.message : String(error);
    } finally {
      deadline.done();
    }
    if (record.status >= 200 && record.status < 300) this.options.counters.webhookSuccesses += 1;
    else this.options.counters.webhookFailures += 1;
    this.deliveries.push(record);
    return record.status;
  }

  /** Waits for deliveries still running (after the timers were stopped they end quickly). */
  async settle(): Promise<void> {
    while (this.#inFlight.size > 0) await Promise.allSettled([...this.#inFlight]);
  }

  reset(endpoint: string | undefined): void {
    this.#generation += 1;
    this.endpoint = endpoint;
    this.auto = true;
    this.deliveries.length = 0;
  }
}
