/**
 * `GET /v1/events`: newest first, with Stripe's `type`/`types`/`created`/`delivery_success`
 * filters and `starting_after`/`ending_before` cursors.
 */
import { invalidRequest, resourceMissing } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import type { StripeEvent } from "./objects.ts";
import { arrayOf, checkShape, objectOf, Params, scalar } from "./params.ts";

const listEventsShape = objectOf({
  type: scalar,
  types: arrayOf(scalar),
  limit: scalar,
  starting_after: scalar,
  ending_before: scalar,
  created: objectOf({ gt: scalar, gte: scalar, lt: scalar, lte: scalar }),
  delivery_success: scalar,
  expand: arrayOf(scalar),
});

export interface EventList {
  object: "list";
  data: StripeEvent[];
  has_more: boolean;
  url: "/v1/events";
}

/** Stripe's `type` filter accepts one `*` wildcard, e.g. `checkout.session.*`. */
function typeMatcher(pattern: string): (type: string) => boolean {
  if (!pattern.includes("*")) return (type) => type === pattern;
  const [head = "", tail = ""] = pattern.split("*");
  return (type) => type.startsWith(head) && type.endsWith(tail);
}

/**
 * `delivery_success` reads `deliverySuccess(id)`: true once the endpoint answered a 2xx, false
 * while an event owed to it is not delivered (pending, failing, held), undefined when no
 * endpoint was set when it was created (then it matches neither value).
 */
export function listEvents(
  events: StripeEvent[],
  query: FormRecord,
  deliverySuccess: (id: string) => boolean | undefined,
): EventList {
  checkShape(query, listEventsShape, "");
  const p = new Params(query);
  const limit = p.integer("limit", { min: 1, max: 100 }) ?? 10;
  const type = p.string("type");
  const types = p.strings("types");
  if (type !== undefined && types.length > 0) {
    throw invalidRequest(
      "You may only specify one of these parameters: type, types.",
      "types",
      "parameters_exclusive",
    );
  }
  const matchers = (type !== undefined ? [type] : types).map(typeMatcher);
  const delivered = p.boolean("delivery_success");
  const created = p.child("created");
  const gt = created?.integer("gt");
  const gte = created?.integer("gte");
  const lt = created?.integer("lt");
  const lte = created?.integer("lte");
  const startingAfter = p.string("starting_after");
  const endingBefore = p.string("ending_before");
  if (startingAfter !== undefined && endingBefore !== undefined) {
    throw invalidRequest(
      "You may only specify one of these parameters: ending_before, starting_after.",
      "ending_before",
    );
  }
  const filtered = [...events].reverse().filter((e) =>
    (matchers.length === 0 || matchers.some((m) => m(e.type))) &&
    (gt === undefined || e.created > gt) && (gte === undefined || e.created >= gte) &&
    (lt === undefined || e.created < lt) && (lte === undefined || e.created <= lte) &&
    (delivered === undefined || deliverySuccess(e.id) === delivered)
  );
  // Cursors refer to events in the full list (a cursor outside the filter still positions it).
  const all = [...events].reverse();
  const cursor = startingAfter ?? endingBefore;
  if (cursor === undefined) return page(filtered.slice(0, limit + 1), limit);
  const position = all.findIndex((e) => e.id === cursor);
  if (position < 0) {
    throw resourceMissing(
      "event",
      cursor,
      startingAfter !== undefined ? "starting_after" : "ending_before",
    );
  }
  const rank = new Map(all.map((e, i) => [e.id, i]));
  if (startingAfter !== undefined) {
    return page(
      filtered.filter((e) => (rank.get(e.id) ?? 0) > position).slice(0, limit + 1),
      limit,
    );
  }
  const before = filtered.filter((e) => (rank.get(e.id) ?? 0) < position);
  return page(before.slice(Math.max(0, before.length - limit - 1)).reverse(), limit, true);
}

function page(candidates: StripeEvent[], limit: number, reversed = false): EventList {
  const data = candidates.slice(0, limit);
  return {
    object: "list",
    data: reversed ? data.reverse() : data,
    has_more: candidates.length > limit,
    url: "/v1/events",
  };
}
