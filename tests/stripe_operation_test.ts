import assert from "node:assert/strict";
import postgres from "npm:postgres@3.4.9";
import { createTestDatabase } from "./harness.ts";
import { INTEGRATION } from "./checkout_helpers.ts";
import { sqlRpc } from "./sql_rpc.ts";
import { withEmulator } from "./stripe_emulator_helpers.ts";
import { call, type Rpc } from "../supabase/functions/_shared/db.ts";
import {
  genericWrites,
  runStripeOperation,
  type StripeOperation,
} from "../supabase/functions/_shared/checkout-utils.ts";
import type { Stripe } from "../supabase/functions/_shared/stripe.ts";

const ROUTE = "POST /v1/customers";

/**
 * A Stripe operation the runner has no special knowledge of, claimed and written with
 * the generic `*_stripe_idempotency` functions, as a refund (`refund:create:<order id>`)
 * would be: the runner's users differ only in these few lines.
 */
async function runOperation(
  rpc: Rpc,
  stripe: Stripe,
  operationId: string,
  seen: string[] = [],
) {
  const claim = await claimOperation(rpc, operationId);
  const operation = {
    p_operation_type: "test_op:create",
    p_operation_id: operationId,
    p_lease_token: claim.lease_token,
  };
  const op: StripeOperation<Stripe.Customer> = {
    key: claim.key,
    call: (options) => {
      seen.push(options.idempotencyKey);
      return stripe.customers.create({ metadata: { operation: operationId } }, options);
    },
    record: (customer) =>
      call(rpc, "record_stripe_idempotency", {
        ...operation,
        p_stripe_resource_id: customer.id,
      }),
    ...genericWrites(rpc, operation),
  };
  return { claim, op, run: () => runStripeOperation(op) };
}

async function claimOperation(rpc: Rpc, operationId: string) {
  const claim = await call(rpc, "check_stripe_idempotency", {
    p_operation_type: "test_op:create",
    p_operation_id: operationId,
    p_request_fingerprint: "test",
    p_lease_seconds: 30,
  });
  if (claim.outcome !== "claimed") throw new Error(`not claimed: ${JSON.stringify(claim)}`);
  return { key: claim.stripe_idempotency_key, lease_token: claim.lease_token };
}

Deno.test("the Stripe-operation runner", INTEGRATION, async (t) => {
  const db = await createTestDatabase();
  const sql = postgres(db.url, { max: 2, onnotice: () => {} });
  const rpc = sqlRpc(sql);
  const row = async (id: string) =>
    (await sql<
      { status: string; stripe_idempotency_key: string; stripe_resource_id: string | null }[]
    >`
      select status, stripe_idempotency_key, stripe_resource_id from public.stripe_idempotency_keys
      where operation_type = 'test_op:create' and operation_id = ${id}`)[0];
  try {
    await withEmulator({}, async ({ control, stripe }) => {
      await t.step("calls Stripe with the stored key and records the resource", async () => {
        const seen: string[] = [];
        const { claim, run } = await runOperation(rpc, stripe, "op-ok", seen);
        const outcome = await run();
        assert.equal(outcome.outcome, "recorded");
        assert.deepEqual(seen, [claim.key]);
        assert.match(claim.key, /^test_op:create:op-ok:[0-9a-f-]{36}$/);
        const stored = await row("op-ok");
        assert.equal(stored?.status, "succeeded");
        assert.equal(
          stored?.stripe_resource_id,
          outcome.outcome === "recorded" && outcome.value.id,
        );
      });

      await t.step(
        "a 5xx releases the operation, which the next claim resumes with the same key",
        async () => {
          await control.addFault({ route: ROUTE, mode: "before", status: 503 });
          const first = await runOperation(rpc, stripe, "op-503");
          assert.equal((await first.run()).outcome, "released");
          assert.equal((await row("op-503"))?.status, "open");
          const second = await runOperation(rpc, stripe, "op-503");
          assert.equal(second.claim.key, first.claim.key);
          assert.equal((await second.run()).outcome, "recorded");
        },
      );

      await t.step("a replayed 5xx re-keys the operation", async () => {
        await control.addFault({ route: ROUTE, mode: "saved_500" });
        const first = await runOperation(rpc, stripe, "op-saved");
        assert.equal((await first.run()).outcome, "released");
        // Stripe now replays that 500 under the key: the runner asks for a new one.
        const second = await runOperation(rpc, stripe, "op-saved");
        assert.equal(second.claim.key, first.claim.key);
        const replayed = await second.run();
        assert.equal(replayed.outcome, "released");
        assert.equal(replayed.outcome === "released" && replayed.failure.rekey, true);
        const third = await runOperation(rpc, stripe, "op-saved");
        assert.notEqual(third.claim.key, first.claim.key);
        assert.equal((await third.run()).outcome, "recorded");
      });

      await t.step("a 4xx fails the operation terminally", async () => {
        await control.addFault({ route: ROUTE, mode: "before", status: 400 });
        const { run } = await runOperation(rpc, stripe, "op-400");
        const outcome = await run();
        assert.equal(outcome.outcome, "failed");
        assert.equal((await row("op-400"))?.status, "failed");
      });

      await t.step("a holder whose lease was taken over records nothing", async () => {
        const { op } = await runOperation(rpc, stripe, "op-lost");
        await sql`update public.stripe_idempotency_keys set locked_until = now() - interval '1 s'
          where operation_id = 'op-lost'`;
        const takeover = await claimOperation(rpc, "op-lost");
        assert.equal((await runStripeOperation(op)).outcome, "lease_lost");
        assert.equal((await row("op-lost"))?.status, "open", "left to the new holder");
        assert.ok(takeover.lease_token);
      });
    });
  } finally {
    await sql.end();
    await db.drop();
  }
});
