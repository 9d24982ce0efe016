/**
 * Customers: `POST /v1/customers`, `GET /v1/customers` (list), `GET /v1/customers/:id` and
 * `GET /v1/customers/search`.
 */
import { invalidRequest, requireObject } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import { newId } from "./ids.ts";
import type { Customer } from "./objects.ts";
import { arrayOf, checkShape, map, objectOf, Params, scalar } from "./params.ts";
import { type FieldReaders, prepareSearch, type SearchResult } from "./search.ts";
import type { EmulatorState, RequestContext } from "./state.ts";

const createCustomerShape = objectOf({
  email: scalar,
  name: scalar,
  description: scalar,
  phone: scalar,
  metadata: map,
  preferred_locales: arrayOf(scalar),
  expand: arrayOf(scalar),
});

export interface CreateCustomerInput {
  email: string | null;
  name: string | null;
  description: string | null;
  phone: string | null;
  metadata: Record<string, string>;
  preferredLocales: string[];
}

export function parseCreateCustomer(form: FormRecord): CreateCustomerInput {
  checkShape(form, createCustomerShape, "");
  const p = new Params(form);
  const email = p.string("email", { maxLength: 512 }) ?? null;
  if (email !== null && !/^[^\s@]+@[^\s@]+\.[^\s@]+$/.test(email)) {
    throw invalidRequest(`Invalid email address: ${email}`, "email", "email_invalid");
  }
  const expand = p.strings("expand");
  if (expand[0] !== undefined) {
    throw invalidRequest(`This property cannot be expanded (${expand[0]}).`, "expand[0]");
  }
  return {
    email,
    name: p.string("name", { maxLength: 256 }) ?? null,
    description: p.string("description") ?? null,
    phone: p.string("phone") ?? null,
    metadata: p.metadata("metadata"),
    preferredLocales: p.strings("preferred_locales"),
  };
}

export function createCustomer(
  state: EmulatorState,
  input: CreateCustomerInput,
  request: RequestContext,
): Customer {
  const id = newId("cus");
  const customer: Customer = {
    id,
    object: "customer",
    address: null,
    balance: 0,
    created: state.clock.now(),
    currency: null,
    default_source: null,
    delinquent: false,
    description: input.description,
    discount: null,
    email: input.email,
    invoice_prefix: id.slice(4, 12).toUpperCase(),
    invoice_settings: {
      custom_fields: null,
      default_payment_method: null,
      footer: null,
      rendering_options: null,
    },
    livemode: false,
    metadata: input.metadata,
    name: input.name,
    phone: input.phone,
    preferred_locales: input.preferredLocales,
    shipping: null,
    tax_exempt: "none",
    test_clock: null,
  };
  state.customers.set(id, customer);
  state.counters.created("customer");
  state.emit("customer.created", customer, request);
  return customer;
}

export function requireCustomer(state: EmulatorState, id: string): Customer {
  return requireObject(state.customers, "customer", id);
}

/** Stripe's query fields for Customers (plus `metadata['key']`). */
const customerFields: FieldReaders<Customer> = {
  created: (c) => c.created,
  email: (c) => c.email,
  name: (c) => c.name,
  phone: (c) => c.phone,
};

/** Validates a `GET /v1/customers/search` query; the returned step runs it. */
export function prepareCustomerSearch(
  form: FormRecord,
): (state: EmulatorState) => SearchResult<Customer> {
  const search = prepareSearch(form, "/v1/customers/search", customerFields);
  return (state) => search(state.customers.values());
}

const listCustomersShape = objectOf({
  email: scalar,
  limit: scalar,
  starting_after: scalar,
  ending_before: scalar,
  expand: arrayOf(scalar),
});

/**
 * Validates a `GET /v1/customers` query; the returned step runs it. Newest first; `email` is
 * an exact, case-sensitive filter, as Stripe's is. Unlike search, a list is strongly
 * consistent at Stripe too: a Customer is listed as soon as it exists.
 */
export function prepareListCustomers(form: FormRecord): (state: EmulatorState) => unknown {
  checkShape(form, listCustomersShape, "");
  const p = new Params(form);
  const email = p.string("email", { maxLength: 512 });
  const limit = p.integer("limit", { min: 1, max: 100 }) ?? 10;
  const after = p.string("starting_after");
  const before = p.string("ending_before");
  if (after !== undefined && before !== undefined) {
    throw invalidRequest(
      "You may only specify one of these parameters: ending_before, starting_after.",
      "starting_after",
    );
  }
  const expand = p.strings("expand");
  if (expand[0] !== undefined) {
    throw invalidRequest(`This property cannot be expanded (${expand[0]}).`, "expand[0]");
  }
  return (state) => {
    let data = [...state.customers.values()].reverse().filter((customer) =>
      email === undefined || customer.email === email
    );
    const cursor = (id: string, param: string) => {
      const at = data.findIndex((customer) => customer.id === id);
      if (at < 0) throw invalidRequest(`No such customer: '${id}'`, param);
      return at;
    };
    let page: Customer[];
    if (before !== undefined) {
      const at = cursor(before, "ending_before");
      page = data.slice(Math.max(0, at - limit), at);
      data = data.slice(0, at);
    } else {
      if (after !== undefined) data = data.slice(cursor(after, "starting_after") + 1);
      page = data.slice(0, limit);
    }
    return { object: "list", data: page, has_more: data.length > limit, url: "/v1/customers" };
  };
}
