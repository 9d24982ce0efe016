/**
 * One stripe-reconcile run (README "Reconciliation"), two phases:
 *
 * 1. Events. Stripe's GET /v1/events lists newest first and keeps 30 days. With a cursor
 *    (the newest event of a walk in which every older one was applied), the run re-reads
 *    an overlap window before it (events Stripe lists late), then walks forward from it
 *    page by page with `ending_before`, oldest first, applying each event through the
 *    webhook's apply_stripe_event (deduplicated by event id, so webhooks arriving at the
 *    same time, or a second run, change nothing). The cursor moves past an event only
 *    once it and every older one were applied, or once it has failed
 *    RECONCILE_MAX_ATTEMPTS times (it stays `failed` for an operator; were it to hold
 *    the cursor for ever, every run would re-walk more and new events would wait behind
 *    it until runs spent their whole budget before reaching them). Without a cursor
 *    (first run, or Stripe no longer knows it) the run first scans down to the oldest
 *    event Stripe holds, across runs if its time budget ends first, and walks forward
 *    from there.
 * 2. Sessions. Orders the cleanup released may still have an open Checkout Session:
 *    each is expired at Stripe as operation `checkout:expire:<order id>:<uuid>`.
 *
 * Stripe answering 429, 5xx or not at all stops the run where it is (the cursor keeps
 * what was applied); the next scheduled run continues.
 */
import type { Stripe } from "./stripe.ts";
import { asJson, call, type Rpc, unexpected } from "./db.ts";
import { classifyStripeError } from "./checkout-utils.ts";
import { HANDLED_EVENT_TYPES } from "./stripe_event_types.ts";
import { expireCheckoutSession } from "./checkout_expire.ts";
import type { ReconcileConfig } from "./reconcile_config.ts";

export interface ReconcileDeps {
  rpc: Rpc;
  stripe: {
    events: Pick<Stripe["events"], "list" | "retrieve">;
    checkout: Pick<Stripe["checkout"], "sessions">;
  };
  config: Pick<
    ReconcileConfig,
    "RECONCILE_OVERLAP_SECONDS" | "RECONCILE_TIME_BUDGET_SECONDS" | "RECONCILE_MAX_ATTEMPTS"
  >;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

export interface ReconcileSummary {
  seen: number;
  applied: number;
  duplicate: number;
  ignored: number;
  failed: number;
  /** Failed events the cursor passed: they failed RECONCILE_MAX_ATTEMPTS times or more. */
  given_up: number;
  expired: number;
  /** The event the next run continues after (null: none yet). */
  cursor: string | null;
  /** caught_up | time_budget | scanning (the first scan continues next run) | stripe_error */
  stopped: "caught_up" | "time_budget" | "scanning" | "stripe_error";
  error?: string;
}

/** Stripe keeps events this long; a first run starts there. */
export const STRIPE_EVENT_RETENTION_SECONDS = 30 * 24 * 3600;
const PAGE_SIZE = 100;
/** The overlap re-read is for stragglers, not a backlog: bounded. */
const OVERLAP_MAX_PAGES = 10;
/** Expiries per run; the rest wait for the next one. */
const EXPIRE_BATCH = 50;
const IN_FLIGHT_RETRIES = 20;
const IN_FLIGHT_PAUSE_MS = 100;
/** How long a claimed expire operation is ours (longer than the Stripe call). */
const EXPIRE_LEASE_SECONDS = 60;

type Event = Stripe.Event;
type Position = { id: string; created: number };

/** Stripe answered 429/5xx or not at all: the run stops and reports it. */
class StripeStop extends Error {
  override name = "StripeStop";
}

export async function reconcile(deps: ReconcileDeps): Promise<ReconcileSummary> {
  const now = deps.now ?? (() => new Date());
  const deadline = Date.now() + deps.config.RECONCILE_TIME_BUDGET_SECONDS * 1000;
  const summary: ReconcileSummary = {
    seen: 0,
    applied: 0,
    duplicate: 0,
    ignored: 0,
    failed: 0,
    given_up: 0,
    expired: 0,
    cursor: null,
    stopped: "caught_up",
  };
  const run = new EventRun(deps, summary, deadline);
  try {
    const state = await call(deps.rpc, "reconcile_state", {});
    summary.cursor = state.cursor_event_id;
    let from: Position | undefined;
    if (state.cursor_event_id && state.cursor_created) {
      from = { id: state.cursor_event_id, created: epoch(state.cursor_created) };
      await run.rereadOverlap(from);
    } else {
      const since = state.scan_since
        ? epoch(state.scan_since)
        : epoch(now()) - STRIPE_EVENT_RETENTION_SECONDS;
      const oldest = await run.scanForOldest(
        since,
        state.scan_event_id,
        state.scan_oldest_event_id,
      );
      if (oldest === "incomplete") summary.stopped = "scanning";
      else if (oldest) from = await run.applyFirst(oldest);
    }
    if (from && summary.stopped === "caught_up") await run.walkForward(from);
    if (summary.stopped !== "stripe_error") await expireReleasedSessions(deps, summary, deadline);
  } catch (error) {
    if (!(error instanceof StripeStop)) throw error;
    summary.stopped = "stripe_error";
    summary.error = error.message;
  }
  await call(deps.rpc, "finish_reconcile_run", { p_summary: asJson(summary) });
  return summary;
}

class EventRun {
  /** The first event of the walk that could not be applied: the cursor stops before it. */
  #blocked = false;

  constructor(
    private readonly deps: ReconcileDeps,
    private readonly summary: ReconcileSummary,
    private readonly deadline: number,
  ) {}

  /** Events listed late, just before the cursor: applied again (mostly duplicates). */
  async rereadOverlap(cursor: Position): Promise<void> {
    const since = cursor.created - this.deps.config.RECONCILE_OVERLAP_SECONDS;
    const window: Event[] = [];
    let after: string | undefined;
    for (let page = 0; page < OVERLAP_MAX_PAGES; page++) {
      const list = await this.#list({
        created: { gte: since, lte: cursor.created },
        ...(after ? { starting_after: after } : {}),
      });
      window.push(...list.data);
      after = list.data.at(-1)?.id;
      if (!list.has_more || !after) break;
    }
    for (const event of window.reverse()) {
      if (event.id !== cursor.id) await this.#apply(event);
    }
  }

  /**
   * Scans newest to oldest from `since` for the oldest event Stripe holds, continuing a
   * scan an earlier run left at `after`. "incomplete" when the time budget ended first.
   */
  async scanForOldest(
    since: number,
    after: string | null,
    oldestId: string | null,
  ): Promise<Event | undefined | "incomplete"> {
    let oldest: Event | undefined;
    let cursor = after ?? undefined;
    for (;;) {
      const list = await this.#list({
        created: { gte: since },
        ...(cursor ? { starting_after: cursor } : {}),
      });
      const last = list.data.at(-1);
      if (last) {
        oldest = last;
        cursor = last.id;
      }
      if (!list.has_more) break;
      if (Date.now() >= this.deadline && cursor) {
        await call(this.deps.rpc, "save_reconcile_scan", {
          p_since: new Date(since * 1000).toISOString(),
          p_scan_event_id: cursor,
          p_oldest_event_id: oldest?.id ?? oldestId ?? cursor,
        });
        return "incomplete";
      }
    }
    if (!oldest && oldestId) {
      oldest = await this.#stripe(() => this.deps.stripe.events.retrieve(oldestId));
    }
    return oldest;
  }

  /** The oldest event starts the walk; the cursor begins there once it is applied. */
  async applyFirst(oldest: Event): Promise<Position> {
    await this.#apply(oldest);
    if (!this.#blocked) await this.#advance(oldest);
    return { id: oldest.id, created: oldest.created };
  }

  /** Page after page of newer events, oldest first, until caught up or out of time. */
  async walkForward(from: Position): Promise<void> {
    let anchor = from.id;
    for (;;) {
      if (Date.now() >= this.deadline) {
        this.summary.stopped = "time_budget";
        return;
      }
      let list;
      try {
        list = await this.#list({ ending_before: anchor }, true);
      } catch (error) {
        if (error instanceof CursorLost) {
          // Older than Stripe's 30 days: the next run scans what Stripe still holds.
          await call(this.deps.rpc, "reset_reconcile_cursor", { p_event_id: anchor });
          this.summary.cursor = null;
          return;
        }
        throw error;
      }
      const page = [...list.data].reverse();
      let last: Event | undefined;
      for (const event of page) {
        await this.#apply(event);
        if (!this.#blocked) last = event;
      }
      if (last) await this.#advance(last);
      const newest = page.at(-1);
      if (!list.has_more || !newest) return;
      anchor = newest.id;
    }
  }

  async #apply(event: Event): Promise<void> {
    this.summary.seen++;
    for (let attempt = 0;; attempt++) {
      const result = await call(this.deps.rpc, "apply_stripe_event", { p_event: asJson(event) });
      switch (result.outcome) {
        case "processed":
          this.summary.applied++;
          return;
        case "duplicate":
          this.summary.duplicate++;
          return;
        case "ignored":
          this.summary.ignored++;
          return;
        case "in_flight":
          // A webhook delivery (or another run) is applying it right now.
          if (attempt < IN_FLIGHT_RETRIES) {
            await (this.deps.sleep ?? sleep)(IN_FLIGHT_PAUSE_MS);
            continue;
          }
          break;
        case "failed":
          console.error(`stripe-reconcile: event ${event.id} failed: ${result.detail}`);
          if (result.attempts >= this.deps.config.RECONCILE_MAX_ATTEMPTS) {
            // It stays `failed` (deno task ops lists it) and no longer holds the cursor.
            this.summary.failed++;
            this.summary.given_up++;
            return;
          }
          break;
        default:
          unexpected(result);
      }
      this.summary.failed++;
      this.#blocked = true;
      return;
    }
  }

  async #advance(event: Event): Promise<void> {
    const state = await call(this.deps.rpc, "advance_reconcile_cursor", {
      p_event_id: event.id,
      p_created: event.created,
    });
    this.summary.cursor = state.cursor_event_id;
  }

  #list(params: Stripe.EventListParams, byCursor = false): Promise<Stripe.ApiList<Event>> {
    return this.#stripe(
      () =>
        this.deps.stripe.events.list({
          ...params,
          types: [...HANDLED_EVENT_TYPES],
          limit: PAGE_SIZE,
        }),
      byCursor,
    );
  }

  /** `byCursor`: a resource_missing answer means Stripe no longer holds the cursor event. */
  async #stripe<T>(call: () => Promise<T>, byCursor = false): Promise<T> {
    try {
      return await call();
    } catch (error) {
      const failure = classifyStripeError(error);
      if (byCursor && failure.code === "resource_missing") throw new CursorLost(failure.message);
      throw new StripeStop(
        `Stripe ${failure.status ?? "unreachable"}${
          failure.code ? ` ${failure.code}` : ""
        }: ${failure.message}`,
      );
    }
  }
}

class CursorLost extends Error {
  override name = "CursorLost";
}

/**
 * Sessions of orders the cleanup released, expired at Stripe so nobody pays for stock
 * that went back. A session Stripe says is no longer open (expired or complete) needs
 * nothing more: a payment that got in first is the webhook's to flag for review.
 */
async function expireReleasedSessions(
  deps: ReconcileDeps,
  summary: ReconcileSummary,
  deadline: number,
): Promise<void> {
  const orders = await call(deps.rpc, "sessions_to_expire", { p_limit: EXPIRE_BATCH });
  const expireDeps = {
    rpc: deps.rpc,
    stripe: deps.stripe,
    config: { IDEMPOTENCY_LEASE_SECONDS: EXPIRE_LEASE_SECONDS },
  };
  for (const { order_id, checkout_session_id } of orders) {
    if (Date.now() >= deadline) {
      summary.stopped = "time_budget";
      return;
    }
    const result = await expireCheckoutSession(expireDeps, order_id, checkout_session_id);
    let closed = false;
    switch (result.outcome) {
      case "expired":
        summary.expired++;
        closed = true;
        break;
      case "refused":
        closed = await sessionIsClosed(deps, checkout_session_id);
        break;
      case "unavailable":
        throw new StripeStop(
          `Stripe ${result.failure.status ?? "unreachable"}: ${result.failure.message}`,
        );
      case "in_progress":
      case "rejected":
      case "mismatch":
        break;
      default:
        unexpected(result);
    }
    if (closed) {
      await call(deps.rpc, "record_session_closed", {
        p_order_id: order_id,
        p_checkout_session_id: checkout_session_id,
      });
    }
  }
}

/** After Stripe refused to expire it: is the session over anyway (or unknown to Stripe)? */
async function sessionIsClosed(deps: ReconcileDeps, sessionId: string): Promise<boolean> {
  try {
    const session = await deps.stripe.checkout.sessions.retrieve(sessionId);
    return session.status !== "open";
  } catch (error) {
    const failure = classifyStripeError(error);
    if (failure.code === "resource_missing") return true;
    if (failure.kind === "retryable") throw new StripeStop(`Stripe: ${failure.message}`);
    return false;
  }
}

function epoch(value: string | Date): number {
  return Math.floor(new Date(value).getTime() / 1000);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
