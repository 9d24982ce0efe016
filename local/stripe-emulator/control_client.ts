/** A typed client for the emulator's control API, for tests and the local stack. */
import type { CountersSnapshot } from "./counters.ts";
import type { Fault, FaultMode, FaultPhase } from "./faults.ts";
import type { DisputeReason } from "./disputes.ts";
import type {
  Charge,
  CheckoutSession,
  Dispute,
  PromotionCode,
  Refund,
  RefundReason,
  StripeEvent,
} from "./objects.ts";
import type { RefundFailureReason } from "./refunds.ts";
import type { DeliveryRecord, EndpointState } from "./webhooks.ts";

export interface FaultInput {
  route: string;
  mode: FaultMode;
  status?: number;
  times?: number;
  delay_ms?: number;
  phase?: FaultPhase;
  effect?: boolean;
}

export interface ClockState {
  now: number;
  iso: string;
  offset_seconds: number;
}

export interface WebhookState {
  auto: boolean;
  endpoint: string | null;
  /** "up", or down since `stopWebhooks`: "hold" (not attempted) or "fail" (attempts fail). */
  endpoint_state: EndpointState;
  /** Events held or failed while down, not yet handed back by `resumeWebhooks`. */
  missed: number;
  /** Deliveries running now (retry schedules included). */
  pending: number;
  deliveries: DeliveryRecord[];
}

export class EmulatorControl {
  constructor(readonly baseUrl: string) {}

  async #call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}/_emulator${path}`, {
      method,
      headers: body === undefined ? {} : { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} /_emulator${path} → ${response.status}: ${text}`);
    return JSON.parse(text);
  }

  counters(): Promise<CountersSnapshot> {
    return this.#call("GET", "/counters");
  }
  addFault(fault: FaultInput): Promise<Fault> {
    return this.#call("POST", "/faults", fault);
  }
  clearFaults(): Promise<{ deleted: true }> {
    return this.#call("DELETE", "/faults");
  }
  clock(): Promise<ClockState> {
    return this.#call("GET", "/clock");
  }
  advanceClock(seconds: number): Promise<ClockState & { expired: string[] }> {
    return this.#call("POST", "/clock/advance", { seconds });
  }
  webhooks(): Promise<WebhookState> {
    return this.#call("GET", "/webhooks");
  }
  setWebhooks(
    settings: { auto?: boolean; endpoint?: string | null },
  ): Promise<{ auto: boolean; endpoint: string | null }> {
    return this.#call("POST", "/webhooks", settings);
  }
  /** The endpoint goes down; events are still created and listed. */
  stopWebhooks(mode: "hold" | "fail" = "hold"): Promise<WebhookState> {
    return this.#call("POST", "/webhooks/stop", { mode });
  }
  /** The endpoint is back; `deliverPending` (default true) redelivers what was missed. */
  resumeWebhooks(
    options: { deliverPending?: boolean } = {},
  ): Promise<WebhookState & { delivering: string[] }> {
    return this.#call("POST", "/webhooks/resume", {
      deliver_pending: options.deliverPending ?? true,
    });
  }
  events(): Promise<{ data: StripeEvent[] }> {
    return this.#call("GET", "/events");
  }
  deliverEvent(
    id: string,
    options: { times?: number; concurrent?: boolean } = {},
  ): Promise<{ id: string; statuses: number[] }> {
    return this.#call("POST", `/events/${id}/deliver`, options);
  }
  deliverEvents(
    ids: string[],
    options: { concurrent?: boolean } = {},
  ): Promise<{ statuses: number[] }> {
    return this.#call("POST", "/events/deliver", { ids, ...options });
  }
  createPromotionCode(input: {
    code: string;
    percent_off?: number;
    amount_off?: number;
    currency?: string;
    active?: boolean;
  }): Promise<PromotionCode> {
    return this.#call("POST", "/promotion_codes", input);
  }
  pay(
    sessionId: string,
    input: { method?: "card" | "delayed"; outcome?: "succeeded" | "failed"; email?: string } = {},
  ): Promise<CheckoutSession> {
    return this.#call("POST", `/sessions/${sessionId}/pay`, input);
  }
  settleAsync(sessionId: string, outcome?: "succeeded" | "failed"): Promise<CheckoutSession> {
    return this.#call(
      "POST",
      `/sessions/${sessionId}/async`,
      outcome === undefined ? {} : { outcome },
    );
  }
  refund(sessionId: string, amount?: number): Promise<Charge> {
    return this.#call(
      "POST",
      `/sessions/${sessionId}/refund`,
      amount === undefined ? {} : { amount },
    );
  }
  /** A "Dashboard" refund of a charge (no API key, no idempotency key): Stripe's events. */
  refundCharge(
    chargeId: string,
    input: { amount?: number; reason?: RefundReason; metadata?: Record<string, string> } = {},
  ): Promise<Refund> {
    return this.#call("POST", `/charges/${chargeId}/refund`, input);
  }
  /** The refund fails later: `refund.failed`, `refund.updated`, `charge.refund.updated`. */
  failRefund(refundId: string, failureReason?: RefundFailureReason): Promise<Refund> {
    return this.#call(
      "POST",
      `/refunds/${refundId}/fail`,
      failureReason === undefined ? {} : { failure_reason: failureReason },
    );
  }
  /** Opens a dispute on a paid session's charge: `charge.dispute.created`. */
  openDispute(
    sessionId: string,
    input: { reason?: DisputeReason; amount?: number } = {},
  ): Promise<Dispute> {
    return this.#call("POST", `/sessions/${sessionId}/dispute`, input);
  }
  openChargeDispute(
    chargeId: string,
    input: { reason?: DisputeReason; amount?: number } = {},
  ): Promise<Dispute> {
    return this.#call("POST", `/charges/${chargeId}/dispute`, input);
  }
  /** Closes a dispute: `charge.dispute.closed` with status won or lost. */
  closeDispute(disputeId: string, status: "won" | "lost"): Promise<Dispute> {
    return this.#call("POST", `/disputes/${disputeId}/close`, { status });
  }
  setAsyncPaymentDelay(ms: number | null): Promise<{ async_payment_delay_ms: number | null }> {
    return this.#call("POST", "/config", { async_payment_delay_ms: ms });
  }
  reset(): Promise<{ reset: true }> {
    return this.#call("POST", "/reset");
  }

  /** Polls until no automatic webhook delivery is running (retries included). */
  async waitForDeliveries(timeoutMs = 10_000): Promise<WebhookState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await this.webhooks();
      if (state.pending === 0) return state;
      if (Date.now() > deadline) {
        throw new Error(`webhook deliveries still pending after ${timeoutMs} ms`);
      }
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}
