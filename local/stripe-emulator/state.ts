/**
 * Everything the emulator remembers, and the one place that creates events (so every state
 * change is also a webhook delivery and a counter increment).
 */
import { EmulatorClock } from "./clock.ts";
import { Counters } from "./counters.ts";
import { FaultRegistry } from "./faults.ts";
import { IdempotencyStore } from "./idempotency.ts";
import { newId } from "./ids.ts";
import type {
  Charge,
  CheckoutSession,
  Customer,
  Dispute,
  EventObject,
  LineItem,
  Metadata,
  PaymentIntent,
  PromotionCode,
  Refund,
  StripeEvent,
} from "./objects.ts";
import { TimerSet } from "./timers.ts";
import { DEFAULT_RETRY_DELAYS_MS, WebhookDispatcher } from "./webhooks.ts";

/** The account's default API version, stamped on events (the version the SDK pins). */
export const EMULATOR_API_VERSION = "2026-10-28.endive";

/** How long a delayed payment method takes to settle unless the control API settles it first. */
export const DEFAULT_ASYNC_PAYMENT_DELAY_MS = 2000;

export interface SessionRecord {
  session: CheckoutSession;
  lineItems: LineItem[];
  paymentIntentMetadata: Metadata;
  paymentIntentDescription: string | null;
  /** The outcome chosen on the hosted page for a delayed payment, until it settles. */
  pendingAsyncOutcome: "succeeded" | "failed" | undefined;
}

/** Which API request caused an event (Stripe's `event.request`); null for page actions. */
export interface RequestContext {
  requestId: string | null;
  idempotencyKey: string | null;
}

export const NO_REQUEST: RequestContext = { requestId: null, idempotencyKey: null };

export interface StateOptions {
  webhookEndpoint: string | undefined;
  webhookSecret: string;
  retryDelaysMs: number[] | undefined;
  asyncPaymentDelayMs: number | undefined;
  log: (message: string) => void;
}

export class EmulatorState {
  readonly clock = new EmulatorClock();
  readonly counters = new Counters();
  readonly timers = new TimerSet();
  readonly faults = new FaultRegistry();
  readonly idempotency = new IdempotencyStore(this.clock);
  readonly webhooks: WebhookDispatcher;
  readonly sessions = new Map<string, SessionRecord>();
  readonly customers = new Map<string, Customer>();
  readonly paymentIntents = new Map<string, PaymentIntent>();
  readonly charges = new Map<string, Charge>();
  readonly refunds = new Map<string, Refund>();
  readonly disputes = new Map<string, Dispute>();
  readonly promotionCodes = new Map<string, PromotionCode>();
  readonly events: StripeEvent[] = [];
  baseUrl = "";
  asyncPaymentDelayMs: number;

  constructor(private readonly options: StateOptions) {
    this.asyncPaymentDelayMs = options.asyncPaymentDelayMs ?? DEFAULT_ASYNC_PAYMENT_DELAY_MS;
    this.webhooks = new WebhookDispatcher({
      secret: options.webhookSecret,
      endpoint: options.webhookEndpoint,
      retryDelaysMs: options.retryDelaysMs ?? DEFAULT_RETRY_DELAYS_MS,
      timers: this.timers,
      counters: this.counters,
      log: options.log,
    });
  }

  log(message: string): void {
    this.options.log(message);
  }

  /**
   * Records an event with a snapshot of the object as it is now (and, for `*.updated` events,
   * the changed fields' old values), and hands it to delivery.
   */
  emit(
    type: string,
    object: EventObject,
    request: RequestContext = NO_REQUEST,
    previousAttributes?: Record<string, unknown>,
  ): StripeEvent {
    const event: StripeEvent = {
      id: newId("evt"),
      object: "event",
      api_version: EMULATOR_API_VERSION,
      created: this.clock.now(),
      data: previousAttributes === undefined ? { object: structuredClone(object) } : {
        object: structuredClone(object),
        previous_attributes: structuredClone(previousAttributes),
      },
      livemode: false,
      // Set by the dispatcher: 1 while the endpoint is owed the event, 0 once delivered.
      pending_webhooks: 0,
      request: { id: request.requestId, idempotency_key: request.idempotencyKey },
      type,
    };
    this.events.push(event);
    this.counters.created("event");
    this.webhooks.onEvent(event);
    return event;
  }

  findEvent(id: string): StripeEvent | undefined {
    return this.events.find((e) => e.id === id);
  }

  reset(): void {
    this.clock.reset();
    this.counters.reset();
    this.faults.clear();
    this.idempotency.clear();
    this.sessions.clear();
    this.customers.clear();
    this.paymentIntents.clear();
    this.charges.clear();
    this.refunds.clear();
    this.disputes.clear();
    this.promotionCodes.clear();
    this.events.length = 0;
    this.webhooks.reset(this.options.webhookEndpoint);
    this.asyncPaymentDelayMs = this.options.asyncPaymentDelayMs ?? DEFAULT_ASYNC_PAYMENT_DELAY_MS;
  }
}
