/**
 * stripe-webhook (SPEC §5), top-down: verify the signature over the raw body → one
 * RPC applies the event (store, effect, mark processed: one transaction) → answer
 * from a closed set of outcomes. Nothing is written for a request that fails
 * verification, and no 2xx leaves before the effect is committed.
 */
import { z } from "npm:zod@4.6.7";
import type { Stripe } from "./stripe.ts";
import { asJson, type Db, rpc } from "./db.ts";
import { ApiError, errorResponse, jsonResponse } from "./errors.ts";
import { verifyStripeSignature } from "./stripe_signature.ts";
import type { WebhookConfig } from "./webhook_config.ts";

export interface WebhookDeps {
  db: Db;
  stripe: Stripe;
  config: Pick<WebhookConfig, "STRIPE_WEBHOOK_SECRET">;
  /** Milliseconds since the epoch, for the signature's age (tests move it). */
  now?: () => number;
}

/** The answers Stripe can get with a 2xx. */
export type DeliveryOutcome = "processed" | "duplicate" | "ignored";

export interface WebhookAck {
  received: true;
  outcome: DeliveryOutcome;
}

/** Only what the SQL needs to trust; the rest of the event is stored as sent. */
const StripeEventShape = z.looseObject({
  id: z.string().regex(/^evt_[A-Za-z0-9_]+$/),
  type: z.string().min(1),
  data: z.looseObject({ object: z.looseObject({}) }),
});

/** How long a delivery that met an in-flight twin should wait before Stripe retries. */
const IN_FLIGHT_RETRY_AFTER_SECONDS = 1;

export function createWebhookHandler(deps: WebhookDeps): (req: Request) => Promise<Response> {
  return async function handleWebhook(req: Request): Promise<Response> {
    try {
      if (req.method !== "POST") {
        return errorResponse(new ApiError("method_not_allowed"), { allow: "POST" });
      }

      // Phase 1: verify. The signature covers the exact bytes, so read them untouched.
      const body = await req.text();
      const verified = await verifyStripeSignature(
        deps.stripe,
        body,
        req.headers.get("stripe-signature"),
        deps.config.STRIPE_WEBHOOK_SECRET,
        { nowMs: deps.now?.() },
      );
      if (!verified.ok) throw new ApiError("invalid_signature");
      if (!StripeEventShape.safeParse(verified.event).success) throw new ApiError("invalid_event");

      // Phase 2: apply, in one RPC (one transaction).
      const result = await rpc(deps.db, "apply_stripe_event", { p_event: asJson(verified.event) });

      // Phase 3: answer.
      switch (result.outcome) {
        case "processed":
        case "duplicate":
        case "ignored": {
          const ack: WebhookAck = { received: true, outcome: result.outcome };
          return jsonResponse(200, ack);
        }
        case "in_flight":
          throw new ApiError("event_in_flight", undefined, IN_FLIGHT_RETRY_AFTER_SECONDS);
        case "failed":
          // Recorded on the event row; logged here for whoever tails the function.
          console.error(
            `stripe-webhook: event ${
              eventId(verified.event)
            } failed (attempt ${result.attempts}): ${result.detail}`,
          );
          throw new ApiError("event_failed");
        default:
          throw new Error(`apply_stripe_event answered ${JSON.stringify(result)}`);
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
