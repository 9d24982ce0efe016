/** Customers: `POST /v1/customers` and `GET /v1/customers/:id`. */
import { invalidRequest, resourceMissing } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import { newId } from "./ids.ts";
import type { Customer } from "./objects.ts";
import { arrayOf, checkShape, map, objectOf, Params, scalar } from "./params.ts";
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
  const customer = state.customers.get(id);
  if (!customer) throw resourceMissing("customer", id, "id", 404);
  return customer;
}
