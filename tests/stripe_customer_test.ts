/**
 * One Customer per user even after Stripe forgets the idempotency key (it keeps keys at
 * least 24 h): a `customer:create` operation resumed when older than 20 h first looks
 * the user's Customer up at Stripe. In-process against a real Postgres and the emulator.
 */
import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import { sqlRpc } from "./sql_rpc.ts";
import { withEmulator } from "./stripe_emulator_helpers.ts";
import { call } from "../supabase/functions/_shared/db.ts";
import { getOrCreateCustomer } from "../supabase/functions/_shared/stripe_customer.ts";
import { ApiError } from "../supabase/functions/_shared/errors.ts";

const ROUTE = "POST /v1/customers";

Deno.test("a user's Stripe Customer", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const rpc = sqlRpc(sql);
  const lease = async () => {
    const key = crypto.randomUUID();
    const scope = `user:${crypto.randomUUID()}`;
    const claim = await call(rpc, "claim_idempotency_key", {
      p_scope: scope,
      p_key: key,
      p_request_fingerprint: key.replaceAll("-", "").repeat(2),
      p_lease_seconds: 60,
      p_ttl_seconds: 3600,
    });
    assert.ok(claim.outcome === "new");
    return { scope, key, token: claim.lease_token };
  };
  try {
    await withEmulator({}, async ({ control, stripe }) => {
      const deps = {
        rpc,
        stripe,
        config: { IDEMPOTENCY_LEASE_SECONDS: 60 },
        now: () => new Date(),
      };

      await t.step("the create call tags the Customer with supabase_user_id", async () => {
        const user = { id: crypto.randomUUID(), email: "tag@example.com" };
        const id = await getOrCreateCustomer(deps, await lease(), user);
        assert.ok(typeof id === "string");
        const customer = await stripe.customers.retrieve(id);
        assert.ok(!customer.deleted);
        assert.equal(customer.metadata.supabase_user_id, user.id);
      });

      await t.step(
        "an operation resumed at 25 h finds the Customer Stripe made for it: one Customer",
        async () => {
          const user = { id: crypto.randomUUID(), email: "late@example.com" };
          const before = (await control.counters()).created.customer ?? 0;
          // Stripe creates the Customer, but its answer is lost: the operation stays open.
          await control.addFault({ route: ROUTE, mode: "after", status: 502 });
          const lost = await getOrCreateCustomer(deps, await lease(), user);
          assert.ok(lost instanceof ApiError && lost.code === "stripe_unavailable");
          assert.equal((await control.counters()).created.customer, before + 1);

          // 25 hours later on both sides: Stripe has forgotten the key.
          await control.advanceClock(25 * 3600);
          await sql`update public.stripe_idempotency_keys
            set created_at = created_at - interval '25 hours'
            where operation_type = 'customer:create' and operation_id = ${user.id}`;
          const found = await getOrCreateCustomer(deps, await lease(), user);
          assert.ok(typeof found === "string", String(found));
          assert.equal((await control.counters()).created.customer, before + 1, "Customers: 1");
          const [stored] = await sql<{ stripe_customer_id: string }[]>`
            select stripe_customer_id from public.stripe_customers where user_id = ${user.id}`;
          assert.equal(stored?.stripe_customer_id, found);
          const customer = await stripe.customers.retrieve(found);
          assert.ok(!customer.deleted);
          assert.equal(customer.metadata.supabase_user_id, user.id);
        },
      );
    });
  } finally {
    await sql.end();
    await db.drop();
  }
});
