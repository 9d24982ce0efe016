/**
 * enhanced-checkout when Stripe saved a 500 under the Customer's key after making the
 * Customer (the emulator's `saved_500` with `effect: true`; real Stripe may answer 500 for a
 * request that had begun executing). The key then replays that 500 forever, so the runner
 * mints a new one; the retry under it must find the Customer Stripe already made for the
 * user rather than make a second one.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  callCheckout,
  emulator,
  INTEGRATION,
  requireOrderOfKey,
  stripeOf,
  userBody,
} from "./checkout_helpers.ts";

Deno.test(
  "a Customer Stripe made under a key it then saved a 500 for is found, not made again",
  INTEGRATION,
  async (t) => {
    // No SDK retries: each of our calls is one call to Stripe.
    await using stack = await startTestStack({
      functionEnv: { STRIPE_MAX_NETWORK_RETRIES: "0" },
    });
    const control = emulator(stack);
    const stripe = stripeOf(stack);

    // With an e-mail the lookup lists the Customers of that e-mail; without one, it searches.
    for (const email of ["rekeyed@example.com", undefined]) {
      await t.step(`a user ${email ? "with" : "without"} an e-mail`, async () => {
        const userId = crypto.randomUUID();
        const token = await stack.mintUserToken({ sub: userId, email });
        const before = await control.counters();
        const lookup = email ? "GET /v1/customers" : "GET /v1/customers/search";
        await control.addFault({
          route: "POST /v1/customers",
          mode: "saved_500",
          effect: true,
          times: 1,
        });
        try {
          const key = crypto.randomUUID();
          const body = userBody();

          // 1: Stripe makes the Customer and answers 500; 2: the same key replays that 500
          // (the operation is re-keyed); 3 and on: under the new key.
          const answers = [];
          for (let i = 0; i < 4; i++) {
            const answer = await callCheckout(stack, "enhanced-checkout", { key, token, body });
            answers.push(answer);
            if (answer.status !== 503) break;
            assert.equal((answer.json.error as { code: string }).code, "stripe_unavailable");
          }
          const last = answers.at(-1);
          assert.equal(last?.status, 201, last?.text);
          assert.equal(answers.length, 3, "201 on the first call under the new key");

          const after = await control.counters();
          assert.equal(after.created.customer, (before.created.customer ?? 0) + 1);
          assert.equal(
            (after.calls[lookup] ?? 0) - (before.calls[lookup] ?? 0),
            1,
            `the re-keyed call looked the Customer up first (${lookup})`,
          );

          const made = await stripe.customers.search({
            query: `metadata['supabase_user_id']:'${userId}'`,
          });
          assert.equal(made.data.length, 1, "one Stripe Customer for one user");
          const [customer] = made.data;
          assert.equal(customer?.email ?? undefined, email);

          const order = await requireOrderOfKey(stack.sql, key);
          const [row] = await stack.sql<{ stripe_customer_id: string | null }[]>`
            select stripe_customer_id from public.orders where id = ${order.id}`;
          assert.equal(row?.stripe_customer_id, customer?.id, "the order uses that Customer");
          const [stored] = await stack.sql<{ stripe_customer_id: string }[]>`
            select stripe_customer_id from public.stripe_customers where user_id = ${userId}`;
          assert.equal(stored?.stripe_customer_id, customer?.id);
          const session = await stripe.checkout.sessions.retrieve(
            String(last?.json.checkout_session_id),
          );
          assert.equal(session.customer, customer?.id, "the session is the Customer's");
        } finally {
          await control.clearFaults();
        }
      });
    }
  },
);
