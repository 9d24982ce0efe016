/**
 * Delivery of events to the webhook endpoint: signed as Stripe signs, retried on a compressed
 * backoff schedule until a 2xx, switchable off so tests can deliver by hand in any order, and
 * an endpoint that can be taken down and brought back (held or failed deliveries).
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

/** "up"; or down: "hold" queues deliveries without attempting them, "fail" fails each attempt. */
export type EndpointState = "up" | "hold" | "fail";

export class WebhookDispatcher {
  endpoint: string | undefined;
  auto = true;
  endpointState: EndpointState = "up";
  readonly deliveries: DeliveryRecord[] = [];
  #inFlight = new Set<Promise<void>>();
  /** Bumped by reset so retries of events from before the reset stop. */
  #generation = 0;
  /** Events owed to the endpoint (one was set when they were created), until a 2xx. */
  #undelivered = new Map<string, StripeEvent>();
  #delivered = new Set<string>();
  /** Events whose automatic schedule is running. */
  #scheduled = new Set<string>();
  /** Events held or failed while the endpoint was down, oldest first, until resume. */
  #missed = new Map<string, StripeEvent>();
  /** Events whose automatic schedule was given up at resume (`deliver_pending: false`). */
  #abandoned = new Set<string>();

  constructor(private readonly options: DispatcherOptions) {
    this.endpoint = options.endpoint;
  }

  get pending(): number {
    return this.#inFlight.size;
  }

  /** How many events were held or failed while the endpoint was down. */
  get missed(): number {
    return this.#missed.size;
  }

  /**
   * Whether the event reached the endpoint with a 2xx (true), is owed and has not (false), or
   * was never owed nor delivered (undefined): `GET /v1/events?delivery_success=`.
   */
  deliverySuccess(eventId: string): boolean | undefined {
    if (this.#delivered.has(eventId)) return true;
    return this.#undelivered.has(eventId) ? false : undefined;
  }

  /** Called for every new event: delivers it in the background when automatic delivery is on. */
  onEvent(event: StripeEvent): void {
    if (!this.endpoint) return;
    event.pending_webhooks = 1;
    this.#undelivered.set(event.id, event);
    if (!this.auto) return;
    if (this.endpointState === "hold") {
      this.#missed.set(event.id, event);
      return;
    }
    this.#schedule(event);
  }

  /** The endpoint goes down: deliveries are held (not attempted) or attempted and failed. */
  stop(mode: "hold" | "fail"): void {
    this.endpointState = mode;
  }

  /**
   * The endpoint is back. With `deliverPending`, every event held or failed meanwhile is
   * delivered again on the automatic schedule, oldest first; without, they stay undelivered
   * (`delivery_success=false`) and their retries stop. Answers the events (re)scheduled.
   */
  resume(deliverPending: boolean): string[] {
    this.endpointState = "up";
    const missed = [...this.#missed.values()];
    this.#missed.clear();
    const scheduled: string[] = [];
    for (const event of missed) {
      if (!this.#undelivered.has(event.id)) continue;
      if (!deliverPending) {
        this.#abandoned.add(event.id);
      } else if (!this.#scheduled.has(event.id)) {
        this.#schedule(event);
        scheduled.push(event.id);
      }
    }
    return scheduled;
  }

  #schedule(event: StripeEvent): void {
    this.#abandoned.delete(event.id);
    this.#scheduled.add(event.id);
    const run = this.#deliverWithRetries(event).finally(() => {
      this.#inFlight.delete(run);
      this.#scheduled.delete(event.id);
    });
    this.#inFlight.add(run);
  }

  async #deliverWithRetries(event: StripeEvent): Promise<void> {
    const delays = this.options.retryDelaysMs;
    const generation = this.#generation;
    for (let attempt = 1; attempt <= delays.length + 1; attempt++) {
      if (this.options.timers.signal.aborted || generation !== this.#generation) return;
      if (this.#abandoned.has(event.id) || !this.endpoint) return;
      if (this.endpointState === "hold") {
        this.#missed.set(event.id, event);
        return;
      }
      const status = await this.#attempt(event, this.endpoint, attempt, true);
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
    if (this.endpointState !== "up") {
      // Down on purpose: as if the connection were refused, and nothing reaches the receiver.
      record.error = "endpoint down (emulator control /_emulator/webhooks/stop)";
      this.options.counters.webhookFailures += 1;
      this.deliveries.push(record);
      this.#missed.set(event.id, event);
      return 0;
    }
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
    if (record.status >= 200 && record.status < 300) {
      this.options.counters.webhookSuccesses += 1;
      this.#delivered.add(event.id);
      this.#undelivered.delete(event.id);
      event.pending_webhooks = 0;
    } else {
      this.options.counters.webhookFailures += 1;
    }
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
    this.endpointState = "up";
    this.deliveries.length = 0;
    this.#undelivered.clear();
    this.#delivered.clear();
    this.#missed.clear();
    this.#abandoned.clear();
  }
}
