/**
 * checkout-status (README "Fulfilment"), top-down: validate the session id → read the
 * order by it (one RPC, which also takes the per-session Stripe look-up slot) → while the
 * order is not final and the slot is ours, retrieve the session from Stripe → apply it
 * through the webhook's own transition (one RPC) → answer the customer-facing status.
 * Public: the session id, unguessable and known only to the customer Stripe redirected,
 * is the credential; the answer carries no personal data.
 */
import type { Stripe } from "./stripe.ts";
import { asJson, call, type Rpc, type RpcOutcome } from "./db.ts";
import { ApiError, errorResponse, jsonResponse } from "./errors.ts";
import { corsHeaders, preflightResponse } from "./http.ts";
import type { StatusConfig } from "./status_config.ts";

export interface StatusDeps {
  rpc: Rpc;
  stripe: Pick<Stripe, "checkout">;
  config: Pick<StatusConfig, "ALLOWED_ORIGINS" | "CHECKOUT_STATUS_THROTTLE_SECONDS">;
}

/** What the landing page gets. */
export interface CheckoutStatus {
  order_id: string;
  status: string;
  amount_total: number;
  currency: string;
  checkout_session_id: string;
}

const SESSION_ID = /^cs_[A-Za-z0-9_]{1,250}$/;
const METHODS = "GET, OPTIONS";

type Known = Exclude<RpcOutcome<"checkout_status_by_session">, { outcome: "unknown" }>;

export function createStatusHandler(deps: StatusDeps): (req: Request) => Promise<Response> {
  return async function handleCheckoutStatus(req: Request): Promise<Response> {
    const cors = corsHeaders(req, deps.config.ALLOWED_ORIGINS);
    cors.set("cache-control", "no-store");
    try {
      if (req.method === "OPTIONS") {
        return preflightResponse(req, deps.config.ALLOWED_ORIGINS, METHODS);
      }
      if (req.method !== "GET") {
        cors.set("allow", METHODS);
        throw new ApiError("method_not_allowed");
      }

      // Phase 1: validate.
      const sessionId = new URL(req.url).searchParams.get("session_id") ?? "";
      if (!SESSION_ID.test(sessionId)) throw new ApiError("invalid_session_id");

      // Phase 2: the stored answer, and whether to ask Stripe.
      const stored = await call(deps.rpc, "checkout_status_by_session", {
        p_checkout_session_id: sessionId,
        p_throttle_seconds: deps.config.CHECKOUT_STATUS_THROTTLE_SECONDS,
      });
      if (stored.outcome === "unknown") throw new ApiError("order_not_found");
      if (stored.outcome !== "lookup") return answer(stored, cors);

      // Phase 3: Stripe, then the webhook's transition. Stripe unreachable → the stored
      // answer (the webhook and stripe-reconcile still settle the order).
      let session: Stripe.Checkout.Session;
      try {
        session = await deps.stripe.checkout.sessions.retrieve(sessionId);
      } catch (error) {
        console.error(`checkout-status: cannot retrieve ${sessionId} from Stripe:`, error);
        return answer(stored, cors);
      }
      const applied = await call(deps.rpc, "apply_checkout_session_status", {
        p_session: asJson(session),
      });
      return answer(applied.outcome === "unknown" ? stored : applied, cors);
    } catch (error) {
      return errorResponse(error, cors);
    }
  };
}

function answer(row: Known, headers: Headers): Response {
  const body: CheckoutStatus = {
    order_id: row.order_id,
    status: row.status,
    amount_total: row.amount_total,
    currency: row.currency,
    checkout_session_id: row.checkout_session_id,
  };
  return jsonResponse(200, body, headers);
}
