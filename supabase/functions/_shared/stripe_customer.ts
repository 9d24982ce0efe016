/**
 * A signed-in user's Stripe Customer, created at most once (operation
 * `customer:create:<user id>`): a concurrent first checkout of the same user waits for
 * the creator instead of creating a second Customer.
 */
import type { Stripe } from "./stripe.ts";
import type { Config } from "./config.ts";
import { call, type Rpc, unexpected } from "./db.ts";
import { ApiError, keyInUse, stripeRejected } from "./errors.ts";
import {
  genericWrites,
  lookUp,
  runStripeOperation,
  STRIPE_KEY_TRUSTED_SECONDS,
} from "./checkout-utils.ts";
import type { RequestLease } from "./request_idempotency.ts";

export interface CustomerDeps {
  rpc: Rpc;
  stripe: Pick<Stripe, "customers">;
  config: Pick<Config, "IDEMPOTENCY_LEASE_SECONDS">;
  now: () => Date;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * How long a checkout waits for a concurrent first checkout creating the same
 * Customer. Each poll renews the request lease, so the wait never eats into it.
 */
export const CUSTOMER_WAIT_MS = 5_000;

/**
 * An open `customer:create` operation older than this may call create under a key Stripe
 * has forgotten, which would make a second Customer, so it first looks the user's
 * Customer up (Stripe's search index lags by up to a minute, long past by then).
 */
export const CUSTOMER_KEY_TRUSTED_SECONDS = STRIPE_KEY_TRUSTED_SECONDS;

/** The metadata that names a Customer's user; the lookup matches on it. */
export const USER_METADATA_KEY = "supabase_user_id";

/** Metadata Customers made before `supabase_user_id` carried instead (README). */
const LEGACY_USER_METADATA_KEY = "user_id";

/** The user's Customer id, or why the checkout cannot have one now. */
export async function getOrCreateCustomer(
  deps: CustomerDeps,
  lease: RequestLease,
  user: { id: string; email: string | undefined },
): Promise<string | ApiError> {
  const sleep = deps.sleep ?? ((ms: number) => new Promise((r) => setTimeout(r, ms)));
  const deadline = deps.now().getTime() + CUSTOMER_WAIT_MS;
  for (let pause = 50;; pause = Math.min(pause * 2, 500)) {
    const claim = await call(deps.rpc, "begin_customer", {
      p_scope: lease.scope,
      p_idempotency_key: lease.key,
      p_request_lease_token: lease.token,
      p_user_id: user.id,
      p_email: user.email ?? "",
      p_lease_seconds: deps.config.IDEMPOTENCY_LEASE_SECONDS,
    });
    switch (claim.outcome) {
      case "existing":
        return claim.stripe_customer_id;
      case "lease_lost":
        return keyInUse(claim.retry_after_seconds);
      case "in_progress":
        if (deps.now().getTime() + pause > deadline) {
          return new ApiError("stripe_unavailable", { retryAfter: claim.retry_after_seconds });
        }
        await sleep(pause);
        continue;
      case "claimed":
        break;
      default:
        return unexpected(claim);
    }

    const operation = {
      p_operation_type: "customer:create",
      p_operation_id: user.id,
      p_lease_token: claim.stripe_lease_token,
    };
    const email = claim.email || undefined;
    let stored = "";
    const run = await runStripeOperation({
      key: claim.stripe_idempotency_key,
      call: async (options) => {
        const found = await lookUp(() => lookUpFirst(deps.stripe, claim, user.id, email));
        if (found) return found;
        const metadata = { [USER_METADATA_KEY]: user.id, [LEGACY_USER_METADATA_KEY]: user.id };
        return await deps.stripe.customers.create({ email, metadata }, options);
      },
      record: async (customer) => {
        const recorded = await call(deps.rpc, "record_customer", {
          p_user_id: user.id,
          p_stripe_lease_token: claim.stripe_lease_token,
          p_stripe_customer_id: customer.id,
        });
        if (recorded.outcome === "ok") stored = recorded.stripe_customer_id;
        return recorded.outcome;
      },
      ...genericWrites(deps.rpc, operation),
    });
    switch (run.outcome) {
      case "recorded":
        // The stored id: a Customer recorded first by a takeover wins over ours.
        return stored;
      case "lease_lost":
        continue; // taken over meanwhile: read what the new owner did
      case "released":
        return new ApiError("stripe_unavailable", { retryAfter: 1 });
      case "failed":
        return stripeRejected(run.failure.code);
      default:
        return unexpected(run);
    }
  }
}

/**
 * The user's Customer, when Stripe may have made it under a key this operation can no
 * longer use: one Stripe has forgotten (an operation older than 20 h), or one given up after
 * Stripe replayed a saved 500 (`rekeyed`: Stripe saves a 500 for a request that had begun
 * executing, so the Customer may exist). Right after a re-key Stripe's search index may not
 * list it yet (it lags up to a minute), so then the Customers of the e-mail the create call
 * sent are listed instead, which is strongly consistent; a user without an e-mail can only
 * be searched for.
 */
async function lookUpFirst(
  stripe: Pick<Stripe, "customers">,
  claim: { operation_age_seconds: number; rekeyed: boolean },
  userId: string,
  email: string | undefined,
): Promise<Stripe.Customer | undefined> {
  if (claim.operation_age_seconds > CUSTOMER_KEY_TRUSTED_SECONDS) {
    return await searchUserCustomer(stripe, userId);
  }
  if (!claim.rekeyed) return undefined;
  return email === undefined
    ? await searchUserCustomer(stripe, userId)
    : await listUserCustomer(stripe, userId, email);
}

function isUsers(customer: Stripe.Customer, userId: string): boolean {
  return customer.metadata[USER_METADATA_KEY] === userId ||
    customer.metadata[LEGACY_USER_METADATA_KEY] === userId;
}

function oldest(customers: Stripe.Customer[]): Stripe.Customer | undefined {
  return customers.toSorted((a, b) => a.created - b.created || a.id.localeCompare(b.id))[0];
}

/** The user's oldest Customer at Stripe, found by its metadata (either key it carried). */
async function searchUserCustomer(
  stripe: Pick<Stripe, "customers">,
  userId: string,
): Promise<Stripe.Customer | undefined> {
  const found = await stripe.customers.search({
    query: `metadata['${USER_METADATA_KEY}']:'${userId}' OR ` +
      `metadata['${LEGACY_USER_METADATA_KEY}']:'${userId}'`,
    limit: 100,
  });
  return oldest(found.data);
}

/** The user's oldest Customer among those of its e-mail (every page of them). */
async function listUserCustomer(
  stripe: Pick<Stripe, "customers">,
  userId: string,
  email: string,
): Promise<Stripe.Customer | undefined> {
  const mine: Stripe.Customer[] = [];
  for await (const customer of stripe.customers.list({ email, limit: 100 })) {
    if (isUsers(customer, userId)) mine.push(customer);
  }
  return oldest(mine);
}
