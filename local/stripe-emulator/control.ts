/**
 * The control API under `/_emulator/` (JSON in and out, no auth): faults, counters, manual
 * event delivery, the clock, webhook settings, promotion codes, payment, refund and dispute
 * helpers, and reset.
 * Routes and shapes are documented in README.md.
 */
import { completeSession, expireSession, settleAsyncPayment, sweepExpired } from "./checkout.ts";
import { closeDispute, DISPUTE_REASONS, openDispute } from "./disputes.ts";
import { invalidRequest, resourceMissing, StripeApiError } from "./errors.ts";
import { newId } from "./ids.ts";
import type { Charge, PromotionCode, StripeEvent } from "./objects.ts";
import {
  failRefund,
  REFUND_FAILURE_REASONS,
  REFUND_REASONS,
  refundCharge,
  requireCharge,
  sessionCharge,
} from "./refunds.ts";
import type { EmulatorState } from "./state.ts";

type Json = Record<string, unknown>;

function json(body: unknown, status = 200): Response {
  return new Response(`${JSON.stringify(body, null, 2)}\n`, {
    status,
    headers: { "content-type": "application/json" },
  });
}

async function readJson(request: Request): Promise<Json> {
  const text = await request.text();
  if (text.trim() === "") return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw invalidRequest(`Body is not valid JSON: ${text.slice(0, 80)}`);
  }
  if (!isJsonObject(value)) throw invalidRequest("Body must be a JSON object");
  return value;
}

function isJsonObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function optionalInt(body: Json, key: string, min: number): number | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw invalidRequest(`${key} must be an integer ≥ ${min}, got ${JSON.stringify(value)}`, key);
  }
  return value;
}

function outcomeOf(body: Json): "succeeded" | "failed" | undefined {
  const outcome = body.outcome;
  if (outcome === undefined || outcome === "succeeded" || outcome === "failed") return outcome;
  throw invalidRequest(
    `outcome must be "succeeded" or "failed", got ${JSON.stringify(outcome)}`,
    "outcome",
  );
}

function oneOf<T extends string>(
  body: Json,
  key: string,
  values: readonly T[],
): T | undefined {
  const value = body[key];
  if (value === undefined || value === null) return undefined;
  const match = values.find((v) => v === value);
  if (match === undefined) {
    throw invalidRequest(
      `${key} must be one of ${values.join(", ")}, got ${JSON.stringify(value)}`,
      key,
    );
  }
  return match;
}

function metadataOf(body: Json): Record<string, string> {
  const value = body.metadata ?? {};
  if (!isJsonObject(value)) {
    throw invalidRequest("metadata must be an object of strings", "metadata");
  }
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== "string") {
      throw invalidRequest("metadata must be an object of strings", `metadata[${key}]`);
    }
    metadata[key] = item;
  }
  return metadata;
}

/** A "Dashboard" refund of a charge: Stripe's events, no API request behind it. */
function dashboardRefund(state: EmulatorState, charge: Charge, body: Json) {
  return refundCharge(state, charge, {
    amount: optionalInt(body, "amount", 1),
    reason: oneOf(body, "reason", REFUND_REASONS) ?? null,
    metadata: metadataOf(body),
  });
}

function disputeOptions(body: Json) {
  return {
    reason: oneOf(body, "reason", DISPUTE_REASONS),
    amount: optionalInt(body, "amount", 1),
  };
}

function requireEvent(state: EmulatorState, id: string): StripeEvent {
  const event = state.findEvent(id);
  if (!event) throw resourceMissing("event", id, "id", 404);
  return event;
}

function createPromotionCode(state: EmulatorState, body: Json): PromotionCode {
  const code = body.code;
  if (typeof code !== "string" || !/^[A-Za-z0-9_-]{1,200}$/.test(code)) {
    throw invalidRequest(
      `code must be 1–200 letters, digits, _ or -, got ${JSON.stringify(code)}`,
      "code",
    );
  }
  const percentOff = body.percent_off;
  const amountOff = optionalInt(body, "amount_off", 1);
  if ((percentOff === undefined) === (amountOff === undefined)) {
    throw invalidRequest("Give exactly one of percent_off and amount_off", "percent_off");
  }
  if (
    percentOff !== undefined &&
    (typeof percentOff !== "number" || percentOff <= 0 || percentOff > 100)
  ) {
    throw invalidRequest(
      `percent_off must be a number in (0, 100], got ${JSON.stringify(percentOff)}`,
      "percent_off",
    );
  }
  const currency = body.currency;
  if (amountOff !== undefined && (typeof currency !== "string" || !/^[a-z]{3}$/.test(currency))) {
    throw invalidRequest(
      `amount_off needs a lower-case currency, got ${JSON.stringify(currency)}`,
      "currency",
    );
  }
  const promo: PromotionCode = {
    id: newId("promo"),
    object: "promotion_code",
    active: body.active !== false,
    code,
    coupon: {
      id: newId("promo").replace("promo_", ""),
      object: "coupon",
      amount_off: amountOff ?? null,
      currency: amountOff !== undefined && typeof currency === "string" ? currency : null,
      percent_off: typeof percentOff === "number" ? percentOff : null,
      duration: "once",
      valid: true,
    },
    created: state.clock.now(),
    livemode: false,
    metadata: {},
  };
  state.promotionCodes.set(promo.id, promo);
  state.counters.created("promotion_code");
  return promo;
}

function webhookState(state: EmulatorState) {
  return {
    auto: state.webhooks.auto,
    endpoint: state.webhooks.endpoint ?? null,
    endpoint_state: state.webhooks.endpointState,
    missed: state.webhooks.missed,
    pending: state.webhooks.pending,
    deliveries: state.webhooks.deliveries,
  };
}

async function deliverMany(
  state: EmulatorState,
  events: StripeEvent[],
  concurrent: boolean,
): Promise<number[]> {
  if (concurrent) return await Promise.all(events.map((e) => state.webhooks.deliverOnce(e)));
  const statuses: number[] = [];
  for (const event of events) statuses.push(await state.webhooks.deliverOnce(event));
  return statuses;
}

async function route(state: EmulatorState, request: Request, path: string): Promise<Response> {
  const method = request.method.toUpperCase();
  const key = `${method} ${path}`;
  let match: RegExpExecArray | null;

  if (key === "GET /_emulator/counters") return json(state.counters.snapshot());
  if (key === "GET /_emulator/faults") return json({ data: state.faults.list() });
  if (key === "POST /_emulator/faults") return json(state.faults.add(await readJson(request)), 201);
  if (key === "DELETE /_emulator/faults") {
    state.faults.clear();
    return json({ deleted: true });
  }
  if (key === "GET /_emulator/clock") return json(state.clock.toJSON());
  if (key === "POST /_emulator/clock/advance") {
    const seconds = optionalInt(await readJson(request), "seconds", 0) ?? 0;
    state.clock.advance(seconds);
    return json({ ...state.clock.toJSON(), expired: sweepExpired(state) });
  }
  if (key === "GET /_emulator/webhooks") return json(webhookState(state));
  if (key === "POST /_emulator/webhooks/stop") {
    const mode = oneOf(await readJson(request), "mode", ["hold", "fail"] as const) ?? "hold";
    state.webhooks.stop(mode);
    return json(webhookState(state));
  }
  if (key === "POST /_emulator/webhooks/resume") {
    const body = await readJson(request);
    const deliver = body.deliver_pending ?? true;
    if (typeof deliver !== "boolean") {
      throw invalidRequest("deliver_pending must be a boolean", "deliver_pending");
    }
    const scheduled = state.webhooks.resume(deliver);
    return json({ ...webhookState(state), delivering: scheduled });
  }
  if (key === "POST /_emulator/webhooks") {
    const body = await readJson(request);
    if (body.auto !== undefined) {
      if (typeof body.auto !== "boolean") throw invalidRequest("auto must be a boolean", "auto");
      state.webhooks.auto = body.auto;
    }
    if (body.endpoint !== undefined) {
      if (body.endpoint !== null && typeof body.endpoint !== "string") {
        throw invalidRequest("endpoint must be a URL or null", "endpoint");
      }
      state.webhooks.endpoint = body.endpoint ?? undefined;
    }
    return json({ auto: state.webhooks.auto, endpoint: state.webhooks.endpoint ?? null });
  }
  if (key === "GET /_emulator/events") return json({ data: state.events });
  if (key === "POST /_emulator/events/deliver") {
    const body = await readJson(request);
    const ids = body.ids;
    if (!Array.isArray(ids) || !ids.every((id): id is string => typeof id === "string")) {
      throw invalidRequest("ids must be an array of event ids", "ids");
    }
    const events = ids.map((id) => requireEvent(state, id));
    const statuses = await deliverMany(state, events, body.concurrent === true);
    return json({
      statuses,
      deliveries: events.map((e, i) => ({ id: e.id, type: e.type, status: statuses[i] })),
    });
  }
  if (method === "POST" && (match = /^\/_emulator\/events\/([^/]+)\/deliver$/.exec(path))) {
    const event = requireEvent(state, match[1] ?? "");
    const body = await readJson(request);
    const times = optionalInt(body, "times", 1) ?? 1;
    const statuses = await deliverMany(
      state,
      Array.from({ length: times }, () => event),
      body.concurrent === true,
    );
    return json({ id: event.id, statuses });
  }
  if (key === "POST /_emulator/promotion_codes") {
    return json(createPromotionCode(state, await readJson(request)), 201);
  }
  if (key === "POST /_emulator/config") {
    const body = await readJson(request);
    const delay = body.async_payment_delay_ms;
    if (delay !== undefined) {
      if (delay !== null && typeof delay !== "number") {
        throw invalidRequest(
          "async_payment_delay_ms must be a number or null",
          "async_payment_delay_ms",
        );
      }
      // null turns automatic settlement off: delayed payments wait for /sessions/:id/async.
      state.asyncPaymentDelayMs = delay ?? -1;
    }
    return json({
      async_payment_delay_ms: state.asyncPaymentDelayMs < 0 ? null : state.asyncPaymentDelayMs,
    });
  }
  if (
    method === "POST" &&
    (match = /^\/_emulator\/charges\/([^/]+)\/(refund|dispute)$/.exec(path))
  ) {
    const charge = requireCharge(state, match[1] ?? "");
    const body = await readJson(request);
    return match[2] === "refund"
      ? json(dashboardRefund(state, charge, body), 201)
      : json(openDispute(state, charge, disputeOptions(body)), 201);
  }
  if (method === "POST" && (match = /^\/_emulator\/refunds\/([^/]+)\/fail$/.exec(path))) {
    const body = await readJson(request);
    const reason = oneOf(body, "failure_reason", REFUND_FAILURE_REASONS);
    return json(failRefund(state, match[1] ?? "", reason ?? "expired_or_canceled_card"));
  }
  if (method === "POST" && (match = /^\/_emulator\/disputes\/([^/]+)\/close$/.exec(path))) {
    const status = oneOf(await readJson(request), "status", ["won", "lost"] as const);
    if (status === undefined) throw invalidRequest(`status must be "won" or "lost"`, "status");
    return json(closeDispute(state, match[1] ?? "", status));
  }
  if (
    method === "POST" &&
    (match = /^\/_emulator\/sessions\/([^/]+)\/(pay|async|refund|dispute|expire)$/.exec(path))
  ) {
    const id = match[1] ?? "";
    const body = await readJson(request);
    switch (match[2]) {
      case "pay": {
        const how = body.method ?? "card";
        if (how !== "card" && how !== "delayed") {
          throw invalidRequest(`method must be "card" or "delayed"`, "method");
        }
        const record = completeSession(
          state,
          id,
          how === "card"
            ? { kind: "card" }
            : { kind: "delayed", outcome: outcomeOf(body) ?? "succeeded" },
          typeof body.email === "string" ? body.email : undefined,
        );
        return json(record.session);
      }
      case "async":
        return json(settleAsyncPayment(state, id, outcomeOf(body)).session);
      case "refund": {
        // Legacy: emits charge.refunded only and answers the charge (see README.md).
        const charge = sessionCharge(state, id);
        refundCharge(state, charge, {
          amount: optionalInt(body, "amount", 1),
          events: "charge_refunded_only",
        });
        return json(charge);
      }
      case "dispute":
        return json(openDispute(state, sessionCharge(state, id), disputeOptions(body)), 201);
      default:
        return json(expireSession(state, id).session);
    }
  }
  if (key === "POST /_emulator/reset") {
    state.reset();
    return json({ reset: true });
  }
  return json(
    { error: { type: "invalid_request_error", message: `Unknown control route ${key}` } },
    404,
  );
}

export async function handleControl(
  state: EmulatorState,
  request: Request,
  path: string,
): Promise<Response> {
  try {
    return await route(state, request, path);
  } catch (error) {
    if (error instanceof StripeApiError) return json(error.toBody(), error.status);
    throw error;
  }
}
