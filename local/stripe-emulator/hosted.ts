/** HTTP side of the hosted checkout page: `GET|POST /c/pay/:id`. */
import { completeSession, sweepExpired } from "./checkout.ts";
import { StripeApiError } from "./errors.ts";
import { fillSessionId, PAGE_ACTIONS, renderCheckoutPage, renderNotFoundPage } from "./page.ts";
import type { EmulatorState } from "./state.ts";

const HTML = { "content-type": "text/html; charset=utf-8" };

function redirect(location: string): Response {
  // 303 so a browser follows a form POST with a GET, as Stripe's page does.
  return new Response(null, { status: 303, headers: { location } });
}

export async function handleCheckoutPage(
  state: EmulatorState,
  request: Request,
  id: string,
): Promise<Response> {
  sweepExpired(state);
  const record = state.sessions.get(id);
  if (!record) return new Response(renderNotFoundPage(id), { status: 404, headers: HTML });
  if (request.method === "GET" || request.method === "HEAD") {
    return new Response(renderCheckoutPage(record), { status: 200, headers: HTML });
  }
  if (request.method !== "POST") {
    return new Response("Method Not Allowed", { status: 405, headers: { allow: "GET, POST" } });
  }

  const form = new URLSearchParams(await request.text());
  const action = PAGE_ACTIONS.find((a) => a === form.get("action"));
  if (!action) {
    return new Response(
      renderCheckoutPage(record, `Unknown action ${JSON.stringify(form.get("action"))}.`),
      {
        status: 400,
        headers: HTML,
      },
    );
  }
  if (record.session.status !== "open") {
    return new Response(
      renderCheckoutPage(record, `This Checkout Session is ${record.session.status}.`),
      {
        status: 409,
        headers: HTML,
      },
    );
  }
  if (action === "cancel") {
    const cancelUrl = record.session.cancel_url;
    if (cancelUrl === null) {
      return new Response(renderCheckoutPage(record, "This session has no cancel_url."), {
        status: 200,
        headers: HTML,
      });
    }
    return redirect(cancelUrl);
  }
  try {
    completeSession(
      state,
      id,
      action === "pay"
        ? { kind: "card" }
        : { kind: "delayed", outcome: action === "pay_delayed_succeed" ? "succeeded" : "failed" },
      form.get("email") ?? undefined,
    );
  } catch (error) {
    if (error instanceof StripeApiError) {
      return new Response(renderCheckoutPage(record, error.message), {
        status: error.status,
        headers: HTML,
      });
    }
    throw error;
  }
  return redirect(fillSessionId(record.session.success_url, id));
}
