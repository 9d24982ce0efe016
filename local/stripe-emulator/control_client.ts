/** A typed client for the emulator's control API, for tests and the local stack. */
import type { CountersSnapshot } from "./counters.ts";
import type { Fault, FaultMode, FaultPhase } from "./faults.ts";
import type { Charge, CheckoutSession, PromotionCode, StripeEvent } from "./objects.ts";
import type { DeliveryRecord } from "./webhooks.ts";

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
