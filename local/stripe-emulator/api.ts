/**
 * The Stripe API routes. Each route validates its parameters first (`prepare`; a failure is
 * never saved under an idempotency key) and returns the execution step, whose result — errors
 * included — is what Stripe saves and replays.
 */
import {
  createSession,
  expireSession,
  lineItemsList,
  prepareListSessions,
  renderSession,
  requireSession,
} from "./checkout.ts";
import { checkExpand, expandShape, parseCreateSession } from "./checkout_params.ts";
import {
  createCustomer,
  parseCreateCustomer,
  prepareCustomerSearch,
  prepareListCustomers,
  requireCustomer,
} from "./customers.ts";
import { requireDispute } from "./disputes.ts";
import { resourceMissing, StripeApiError } from "./errors.ts";
import { listEvents } from "./events.ts";
import type { FormRecord } from "./form.ts";
import { arrayOf, checkShape, objectOf, Params, scalar } from "./params.ts";
import {
  createRefund,
  parseCreateRefund,
  prepareListRefunds,
  requireCharge,
  requirePaymentIntent,
  requireRefund,
} from "./refunds.ts";
import type { EmulatorState, RequestContext } from "./state.ts";

export interface ApiResult {
  status: number;
  body: unknown;
}

export type Execute = () => ApiResult;

export interface ApiRoute {
  method: "GET" | "POST";
  /** The route's template, used for counters and faults: `POST /v1/checkout/sessions/:id/expire`. */
  template: string;
  pattern: RegExp;
  prepare(form: FormRecord, id: string, state: EmulatorState, request: RequestContext): Execute;
}

const ok = (body: unknown): ApiResult => ({ status: 200, body });

function expandOnly(form: FormRecord, allowed: readonly string[]): string[] {
  checkShape(form, expandShape, "");
  const expand = new Params(form).strings("expand");
  checkExpand(expand, allowed);
  return expand;
}

/** `GET <collection>/:id` for an object without expandable fields. */
function retrieveRoute(
  collection: string,
  find: (state: EmulatorState, id: string) => unknown,
): ApiRoute {
  return {
    method: "GET",
    template: `GET ${collection}/:id`,
    pattern: new RegExp(`^${collection}/([^/]+)$`),
    prepare(form, id, state) {
      expandOnly(form, []);
      return () => ok(find(state, id));
    },
  };
}

const listPromotionCodesShape = objectOf({
  code: scalar,
  active: scalar,
  limit: scalar,
  starting_after: scalar,
  ending_before: scalar,
  expand: arrayOf(scalar),
});

export const API_ROUTES: ApiRoute[] = [
  {
    method: "POST",
    template: "POST /v1/checkout/sessions",
    pattern: /^\/v1\/checkout\/sessions$/,
    prepare(form, _id, state) {
      const input = parseCreateSession(form, state.clock.now());
      return () => ok(renderSession(createSession(state, input), input.expand));
    },
  },
  {
    method: "GET",
    template: "GET /v1/checkout/sessions",
    pattern: /^\/v1\/checkout\/sessions$/,
    prepare(form, _id, state) {
      const list = prepareListSessions(form);
      return () => ok(list(state));
    },
  },
  {
    method: "GET",
    template: "GET /v1/checkout/sessions/:id",
    pattern: /^\/v1\/checkout\/sessions\/([^/]+)$/,
    prepare(form, id, state) {
      const expand = expandOnly(form, ["line_items"]);
      return () => ok(renderSession(requireSession(state, id), expand));
    },
  },
  {
    method: "GET",
    template: "GET /v1/checkout/sessions/:id/line_items",
    pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/line_items$/,
    prepare(form, id, state) {
      checkShape(
        form,
        objectOf({
          limit: scalar,
          starting_after: scalar,
          ending_before: scalar,
          expand: arrayOf(scalar),
        }),
        "",
      );
      return () => ok(lineItemsList(requireSession(state, id)));
    },
  },
  {
    method: "POST",
    template: "POST /v1/checkout/sessions/:id/expire",
    pattern: /^\/v1\/checkout\/sessions\/([^/]+)\/expire$/,
    prepare(form, id, state, request) {
      const expand = expandOnly(form, ["line_items"]);
      return () => ok(renderSession(expireSession(state, id, request), expand));
    },
  },
  {
    method: "POST",
    template: "POST /v1/customers",
    pattern: /^\/v1\/customers$/,
    prepare(form, _id, state, request) {
      const input = parseCreateCustomer(form);
      return () => ok(createCustomer(state, input, request));
    },
  },
  {
    method: "GET",
    template: "GET /v1/customers",
    pattern: /^\/v1\/customers$/,
    prepare(form, _id, state) {
      const list = prepareListCustomers(form);
      return () => ok(list(state));
    },
  },
  {
    // Before `/v1/customers/:id`, which would otherwise take "search" for an id.
    method: "GET",
    template: "GET /v1/customers/search",
    pattern: /^\/v1\/customers\/(search)$/,
    prepare(form, _id, state) {
      const search = prepareCustomerSearch(form);
      return () => ok(search(state));
    },
  },
  retrieveRoute("/v1/customers", requireCustomer),
  {
    method: "GET",
    template: "GET /v1/events",
    pattern: /^\/v1\/events$/,
    prepare(form, _id, state) {
      const list = listEvents(state.events, form, (id) => state.webhooks.deliverySuccess(id));
      return () => ok(list);
    },
  },
  {
    method: "GET",
    template: "GET /v1/events/:id",
    pattern: /^\/v1\/events\/([^/]+)$/,
    prepare(form, id, state) {
      expandOnly(form, []);
      return () => {
        const event = state.findEvent(id);
        if (!event) throw resourceMissing("event", id, "id", 404);
        return ok(event);
      };
    },
  },
  {
    method: "POST",
    template: "POST /v1/refunds",
    pattern: /^\/v1\/refunds$/,
    prepare(form, _id, state, request) {
      const input = parseCreateRefund(form);
      return () => ok(createRefund(state, input, request));
    },
  },
  {
    method: "GET",
    template: "GET /v1/refunds",
    pattern: /^\/v1\/refunds$/,
    prepare(form, _id, state) {
      const list = prepareListRefunds(form);
      return () => ok(list(state));
    },
  },
  retrieveRoute("/v1/refunds", requireRefund),
  retrieveRoute("/v1/charges", requireCharge),
  retrieveRoute("/v1/payment_intents", requirePaymentIntent),
  retrieveRoute("/v1/disputes", requireDispute),
  {
    // Not in the suite's call list, but the only way a client can turn a code a shopper typed
    // into the `promo_…` id `discounts[0][promotion_code]` needs.
    method: "GET",
    template: "GET /v1/promotion_codes",
    pattern: /^\/v1\/promotion_codes$/,
    prepare(form, _id, state) {
      checkShape(form, listPromotionCodesShape, "");
      const p = new Params(form);
      const code = p.string("code");
      const active = p.boolean("active");
      const limit = p.integer("limit", { min: 1, max: 100 }) ?? 10;
      return () => {
        const data = [...state.promotionCodes.values()].reverse().filter((promo) =>
          (code === undefined || promo.code.toLowerCase() === code.toLowerCase()) &&
          (active === undefined || promo.active === active)
        );
        return ok({
          object: "list",
          data: data.slice(0, limit),
          has_more: data.length > limit,
          url: "/v1/promotion_codes",
        });
      };
    },
  },
];

export function findRoute(
  method: string,
  path: string,
): { route: ApiRoute; id: string } | undefined {
  for (const route of API_ROUTES) {
    if (route.method !== method) continue;
    const match = route.pattern.exec(path);
    if (match) return { route, id: decodeURIComponent(match[1] ?? "") };
  }
  return undefined;
}

export function unrecognizedUrl(method: string, path: string): StripeApiError {
  return new StripeApiError(
    404,
    "invalid_request_error",
    `Unrecognized request URL (${method}: ${path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/.`,
  );
}
