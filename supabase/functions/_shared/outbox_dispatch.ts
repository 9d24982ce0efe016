/**
 * One outbox-dispatch pass (README "The outbox"): a few workers, each claiming one due
 * message at a time (leased, so no two dispatchers ever hold it), POSTing it signed to
 * the receiver with a timeout, then completing it (2xx) or scheduling its retry —
 * backoff with jitter in SQL, dead after the last attempt. A slow receiver holds one
 * worker for at most the timeout; the others keep going.
 */
import { call, type Rpc, unexpected } from "./db.ts";
import { outboxMessage, signedDelivery } from "./outbox_message.ts";
import type { OutboxConfig } from "./outbox_config.ts";

export interface DispatchDeps {
  rpc: Rpc;
  config: Pick<
    OutboxConfig,
    | "OUTBOX_WEBHOOK_URL"
    | "OUTBOX_WEBHOOK_SECRET"
    | "OUTBOX_RETRY_BASE_SECONDS"
    | "OUTBOX_MAX_ATTEMPTS"
    | "OUTBOX_CONCURRENCY"
    | "OUTBOX_DELIVERY_TIMEOUT_MS"
  >;
  fetch?: typeof fetch;
  now?: () => Date;
  /** A pass stops claiming after this long (default PASS_BUDGET_MS). */
  budgetMs?: number;
}

export interface DispatchSummary {
  claimed: number;
  delivered: number;
  retrying: number;
  dead: number;
  /** Answered after another dispatcher took the message over (its lease had run out). */
  lease_lost: number;
  stopped: "drained" | "time_budget";
}

/** Well under the edge runtime's wall-clock limit, leaving room for the last deliveries. */
export const PASS_BUDGET_MS = 60_000;
/** How much longer than one delivery's timeout a lease lasts (the RPCs around it). */
const LEASE_MARGIN_SECONDS = 30;
/** Receivers' answers are kept in last_error this long at most. */
const ERROR_BODY_CHARS = 300;

type Attempt = { ok: true } | { ok: false; error: string };

export async function dispatchOutbox(deps: DispatchDeps): Promise<DispatchSummary> {
  const { config } = deps;
  const now = deps.now ?? (() => new Date());
  const deadline = Date.now() + (deps.budgetMs ?? PASS_BUDGET_MS);
  const leaseSeconds = Math.ceil(config.OUTBOX_DELIVERY_TIMEOUT_MS / 1000) + LEASE_MARGIN_SECONDS;
  const summary: DispatchSummary = {
    claimed: 0,
    delivered: 0,
    retrying: 0,
    dead: 0,
    lease_lost: 0,
    stopped: "drained",
  };
  // The database's time at the first claim: what fails during this pass is retried by a
  // later one, so a pass always ends.
  let passStart: string | undefined;

  const worker = async () => {
    for (;;) {
      if (Date.now() >= deadline) {
        summary.stopped = "time_budget";
        return;
      }
      const [row] = await call(deps.rpc, "claim_outbox", {
        p_limit: 1,
        p_lease_seconds: leaseSeconds,
        p_max_attempts: config.OUTBOX_MAX_ATTEMPTS,
        ...(passStart ? { p_due_before: passStart } : {}),
      });
      if (!row) return;
      passStart ??= row.last_attempt_at;
      summary.claimed++;
      const attempt = await deliver(deps, outboxMessage(row), now());
      if (attempt.ok) {
        const done = await call(deps.rpc, "complete_outbox", {
          p_id: row.id,
          p_lease_token: row.lease_token,
        });
        if (done === "done") summary.delivered++;
        else summary.lease_lost++;
        continue;
      }
      const failure = await call(deps.rpc, "fail_outbox", {
        p_id: row.id,
        p_lease_token: row.lease_token,
        p_error: attempt.error,
        p_base_seconds: config.OUTBOX_RETRY_BASE_SECONDS,
        p_max_attempts: config.OUTBOX_MAX_ATTEMPTS,
      });
      switch (failure.outcome) {
        case "retry":
          summary.retrying++;
          break;
        case "dead":
          summary.dead++;
          break;
        case "lease_lost":
          summary.lease_lost++;
          break;
        default:
          unexpected(failure);
      }
    }
  };
  await Promise.all(Array.from({ length: config.OUTBOX_CONCURRENCY }, worker));
  return summary;
}

async function deliver(
  deps: DispatchDeps,
  message: ReturnType<typeof outboxMessage>,
  at: Date,
): Promise<Attempt> {
  const { body, headers } = signedDelivery(message, deps.config.OUTBOX_WEBHOOK_SECRET, at);
  const timeoutMs = deps.config.OUTBOX_DELIVERY_TIMEOUT_MS;
  try {
    const response = await (deps.fetch ?? fetch)(deps.config.OUTBOX_WEBHOOK_URL, {
      method: "POST",
      headers,
      body,
      // A redirect is not a delivery: the receiver must answer 2xx itself.
      redirect: "manual",
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await response.text().catch(() => "");
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return {
      ok: false,
      error: `HTTP ${response.status}${text ? `: ${text.slice(0, ERROR_BODY_CHARS)}` : ""}`,
    };
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError") return { ok: false, error: `no answer within ${timeoutMs} ms` };
    return { ok: false, error: error instanceof Error ? error.message : String(error) };
  }
}
