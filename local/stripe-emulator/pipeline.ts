/**
 * One Stripe API request, top-down: route → auth → fault "before" → decode → idempotency
 * lookup → validate → claim key → execute (with the fault's delay or saved 500) → save →
 * answer (or lose the answer, for "after" and "drop_after" faults).
 */
import { findRoute, unrecognizedUrl } from "./api.ts";
import type { ApiResult } from "./api.ts";
import { authenticate } from "./auth.ts";
import { sweepExpired } from "./checkout.ts";
import { injectedError, invalidRequest, StripeApiError } from "./errors.ts";
import type { Fault } from "./faults.ts";
import { canonicalForm, decodeForm } from "./form.ts";
import type { FormRecord } from "./form.ts";
import { newId } from "./ids.ts";
import type { SavedResponse } from "./idempotency.ts";
import type { EmulatorState, RequestContext } from "./state.ts";
import { EMULATOR_API_VERSION } from "./state.ts";

const MAX_IDEMPOTENCY_KEY_LENGTH = 255;

interface AnswerOptions {
  requestId: string;
  request: Request;
  idempotencyKey: string | null;
  replayOf?: string;
}

function headers(options: AnswerOptions): Headers {
  const h = new Headers({
    "content-type": "application/json",
    "request-id": options.requestId,
    "stripe-version": options.request.headers.get("stripe-version") ?? EMULATOR_API_VERSION,
    "access-control-allow-origin": "*",
  });
  if (options.idempotencyKey !== null) h.set("idempotency-key", options.idempotencyKey);
  if (options.replayOf !== undefined) {
    h.set("idempotent-replayed", "true");
    h.set("original-request", options.replayOf);
  }
  return h;
}

function serialize(body: unknown): string {
  return `${JSON.stringify(body, null, 2)}\n`;
}

function answer(status: number, body: string, options: AnswerOptions): Response {
  return new Response(body, { status, headers: headers(options) });
}

function answerError(error: StripeApiError, options: AnswerOptions): Response {
  return answer(error.status, serialize(error.toBody()), options);
}

/**
 * Sends the headers and part of the body, then fails the stream: the connection is cut
 * mid-response, which the SDK reports as a StripeConnectionError.
 */
function droppedResponse(status: number, body: string, options: AnswerOptions): Response {
  const bytes = new TextEncoder().encode(body);
  let sent = false;
  const stream = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (!sent) {
        sent = true;
        controller.enqueue(bytes.slice(0, Math.max(1, Math.floor(bytes.length / 2))));
        return;
      }
      controller.error(
        new Error("stripe emulator: connection dropped on purpose (drop_after fault)"),
      );
    },
  });
  const h = headers(options);
  h.set("content-length", String(bytes.length));
  return new Response(stream, { status, headers: h });
}

function unexpected(error: unknown, state: EmulatorState): ApiResult {
  state.log(
    `unexpected error: ${error instanceof Error ? error.stack ?? error.message : String(error)}`,
  );
  return { status: 500, body: injectedError(500).toBody() };
}

function run(execute: () => ApiResult, state: EmulatorState): ApiResult {
  try {
    return execute();
  } catch (error) {
    if (error instanceof StripeApiError) return { status: error.status, body: error.toBody() };
    return unexpected(error, state);
  }
}

function deliverOutcome(
  fault: Fault | undefined,
  saved: SavedResponse,
  options: AnswerOptions,
): Response {
  // The answer was lost on the way (a proxy's error): Stripe's replay headers never reach the
  // client, or a lost replayed success would pass for a replayed 5xx.
  if (fault?.mode === "after") {
    return answerError(injectedError(fault.status), { ...options, replayOf: undefined });
  }
  if (fault?.mode === "drop_after") return droppedResponse(saved.status, saved.body, options);
  return answer(saved.status, saved.body, options);
}

export async function handleApiRequest(
  state: EmulatorState,
  request: Request,
  expectedKey: string | undefined,
): Promise<Response> {
  const url = new URL(request.url);
  const method = request.method.toUpperCase();
  const requestId = newId("req");
  const rawKey = method === "POST" ? request.headers.get("idempotency-key") : null;
  const options: AnswerOptions = { requestId, request, idempotencyKey: rawKey };
  sweepExpired(state);

  const found = findRoute(method, url.pathname);
  if (!found) return answerError(unrecognizedUrl(method, url.pathname), options);
  const { route, id } = found;
  state.counters.call(route.template);

  let apiKey: string;
  let form: FormRecord;
  try {
    apiKey = authenticate(request, expectedKey);
  } catch (error) {
    if (error instanceof StripeApiError) return answerError(error, options);
    throw error;
  }

  const fault = state.faults.take(route.template);
  if (fault) state.counters.faults += 1;
  if (fault?.mode === "before") {
    await request.body?.cancel();
    return answerError(injectedError(fault.status), options);
  }

  try {
    form = decodeForm(method === "POST" ? await request.text() : url.search.slice(1));
    if (rawKey !== null && (rawKey.length === 0 || rawKey.length > MAX_IDEMPOTENCY_KEY_LENGTH)) {
      throw invalidRequest(
        `Invalid idempotency key: keys must be 1 to ${MAX_IDEMPOTENCY_KEY_LENGTH} characters long, got ${rawKey.length}.`,
      );
    }
  } catch (error) {
    if (error instanceof StripeApiError) return answerError(error, options);
    throw error;
  }

  const endpoint = `${method} ${url.pathname}`;
  const fingerprint = canonicalForm(form);
  if (rawKey !== null) {
    const lookup = state.idempotency.lookup(apiKey, rawKey, endpoint, fingerprint);
    if (lookup.kind === "rejected") return answerError(lookup.error, options);
    if (lookup.kind === "replay") {
      state.counters.replays += 1;
      if (fault?.mode === "delay") await state.timers.sleep(fault.delay_ms);
      return deliverOutcome(fault, lookup.response, {
        ...options,
        replayOf: lookup.response.requestId,
      });
    }
  }

  const context: RequestContext = { requestId, idempotencyKey: rawKey };
  let execute: () => ApiResult;
  try {
    execute = route.prepare(form, id, state, context);
  } catch (error) {
    if (error instanceof StripeApiError) return answerError(error, options);
    throw error;
  }

  if (rawKey !== null) state.idempotency.begin(apiKey, rawKey, endpoint, fingerprint);
  if (fault?.mode === "delay" && fault.phase === "before") await state.timers.sleep(fault.delay_ms);
  let result: ApiResult;
  if (fault?.mode === "saved_500") {
    if (fault.effect) run(execute, state);
    result = { status: 500, body: injectedError(500).toBody() };
  } else {
    result = run(execute, state);
  }
  // Still executing as far as the key is concerned: a concurrent retry gets 409 meanwhile.
  if (fault?.mode === "delay" && fault.phase === "after") await state.timers.sleep(fault.delay_ms);
  const saved: SavedResponse = { status: result.status, body: serialize(result.body), requestId };
  if (rawKey !== null) state.idempotency.save(apiKey, rawKey, saved);
  return deliverOutcome(fault, saved, options);
}
