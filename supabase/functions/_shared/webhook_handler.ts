/**
 * stripe-webhook (README: "The Stripe webhook"), top-down: verify the signature over the raw body → one
 * RPC applies the event (store, effect, mark processed: one transaction) → answer
 * from a closed set of outcomes. Nothing is written for a request that fails
 * verification, and no 2xx leaves before the effect is committed.
 */
import type { Stripe } from "./stripe.ts";
import { asJson, call, type Rpc, unexpected } from "./db.ts";
import { ApiError, errorResponse, jsonResponse } from "./errors.ts";
import { readLimitedBody } from "./http.ts";
import { verifyStripeSignature } from "./stripe_signature.ts";
import { eventProblem, StripeEventShape } from "./stripe_event_shape.ts";
import { stripeKeyLivemode, type WebhookConfig } from "./webhook_config.ts";
import type { Kick } from "./kick.ts";

export interface WebhookDeps {
  rpc: Rpc;
  stripe: Stripe;
  /** Without STRIPE_SECRET_KEY (in-process tests) the event's mode is not checked. */
  config:
    & Pick<WebhookConfig, "STRIPE_WEBHOOK_SECRET">
    & Partial<Pick<WebhookConfig, "STRIPE_SECRET_KEY">>;
  /** Milliseconds since the epoch, for the signature's age (tests move it). */
  now?: () => number;
  /** Starts an outbox delivery once an effect (and the messages it queued) committed. */
  kick?: Kick;
}

/** The answers Stripe can get with a 2xx. */
export type DeliveryOutcome = "processed" | "duplicate" | "ignored";

export interface WebhookAck {
  received: true;
  outcome: DeliveryOutcome;
}

/**
 * Stripe's event payloads are a few KiB (the largest, with expanded objects, well under
 * 1 MiB); anything bigger is not Stripe and is refused before any signature work.
 */
export const MAX_WEBHOOK_BODY_BYTES = 1024 * 1024;

/** How long a delivery that met an in-flight twin should wait before Stripe retries. */
const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;

export function createWebhookHandler(deps: WebhookDeps): (req: Request) => Promise<Response> {
  const key = deps.config.STRIPE_SECRET_KEY;
  const livemode = key === undefined ? undefined : stripeKeyLivemode(key);
  return async function handleWebhook(req: Request): Promise<Response> {
    try {
      if (req.method !== "POST") {
        return errorResponse(new ApiError("method_not_allowed"), { allow: "POST" });
      }

      // Phase 1: verify. The signature covers the exact bytes, so read them untouched
      // (and no more than MAX_WEBHOOK_BODY_BYTES: 413 before any signature work).
      const body = exactText(await readLimitedBody(req, MAX_WEBHOOK_BODY_BYTES));
      if (body === undefined) throw new ApiError("invalid_signature");
      const verified = await verifyStripeSignature(
        deps.stripe,
        body,
        req.headers.get("stripe-signature"),
        deps.config.STRIPE_WEBHOOK_SECRET,
        { nowMs: deps.now?.() },
      );
      if (!verified.ok) throw new ApiError("invalid_signature");
      const problem = eventProblem(verified.event);
      if (problem !== undefined) {
        // Signed with our secret, yet not an event Stripe sends: logged for whoever signed it.
        console.error(`stripe-webhook: refused a signed body: ${problem}`);
        throw new ApiError("invalid_event");
      }

      // Phase 2: apply, in one RPC (one transaction). The SQL refuses (stores as ignored)
      // an event of the other mode than our key's, or of a connected account.
      const result = await call(deps.rpc, "apply_stripe_event", {
        p_event: asJson(verified.event),
        p_livemode: livemode,
      });

      // Phase 3: answer.
      switch (result.outcome) {
        case "processed":
        case "duplicate":
        case "ignored": {
          // Only a committed effect can have queued outbox messages.
          if (result.outcome === "processed") deps.kick?.();
          const ack: WebhookAck = { received: true, outcome: result.outcome };
          return jsonResponse(200, ack);
        }
        case "in_flight":
          throw new ApiError("event_in_flight", { retryAfter: IN_FLIGHT_RETRY_AFTER_SECONDS });
        case "failed":
          // Recorded on the event row; logged here for whoever tails the function.
          console.error(
            `stripe-webhook: event ${
              eventId(verified.event)
            } failed (attempt ${result.attempts}): ${result.detail}`,
          );
          throw new ApiError("event_failed");
        default:
          return unexpected(result);
      }
    } catch (error) {
      return errorResponse(error);
    }
  };
}

function eventId(event: unknown): string {
  const parsed = StripeEventShape.safeParse(event);
  return parsed.success ? parsed.data.id : "(unknown)";
}

/**
 * The body as the text whose signature is checked, byte for byte: a default TextDecoder
 * would drop a leading BOM and replace invalid bytes, so bytes Stripe never signed could
 * pass as the signed text. Stripe sends UTF-8 without a BOM; anything else is not its body.
 */
function exactText(bytes: Uint8Array): string | undefined {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return undefined;
  }
}
