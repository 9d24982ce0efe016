/** Only events Stripe signed with a configured secret get in; a bad one writes nothing. */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { DRIPPER, emulator, INTEGRATION, stripeOf } from "./checkout_helpers.ts";
import {
  createOrderInSql,
  deliverSigned,
  eventRows,
  orderState,
  sessionObject,
  stripeEvent,
} from "./webhook_helpers.ts";
import { createDb, rpcOf } from "../supabase/functions/_shared/db.ts";
import { createWebhookHandler } from "../supabase/functions/_shared/webhook_handler.ts";
import { parseWebhookConfig } from "../supabase/functions/_shared/webhook_config.ts";
import { signatureHeader } from "../local/stripe-emulator/signing.ts";

const OLD_SECRET = "whsec_oldSecretOfTheEndpoint0000";
const NEW_SECRET = "whsec_newSecretOfTheEndpoint1111";

async function paidEventFor(
  stack: Awaited<ReturnType<typeof startTestStack>>,
): Promise<{ orderId: string; payload: string }> {
  const { orderId, amount } = await createOrderInSql(stack.sql, DRIPPER, { unitAmount: 3200 });
  const event = stripeEvent(
    "checkout.session.completed",
    sessionObject(orderId, `cs_test_${crypto.randomUUID().replaceAll("-", "")}`, {
      amount_total: amount,
      payment_status: "paid",
      payment_intent: `pi_${crypto.randomUUID().replaceAll("-", "")}`,
    }),
  );
  return { orderId, payload: JSON.stringify(event) };
}

async function assertNothingWritten(
  stack: Awaited<ReturnType<typeof startTestStack>>,
  orderId: string,
): Promise<void> {
  assert.equal((await eventRows(stack.sql)).length, 0);
  assert.equal((await orderState(stack.sql, orderId)).status, "pending");
}

Deno.test(
  "bad signatures answer 400 invalid_signature and write nothing",
  INTEGRATION,
  async (t) => {
    await using stack = await startTestStack();
    await emulator(stack).setWebhooks({ auto: false });
    const { orderId, payload } = await paidEventFor(stack);
    const now = Math.floor(Date.now() / 1000);

    const cases: [string, () => Promise<{ status: number; body: string }>][] = [
      ["missing header", () => deliverSigned(stack, payload, { signature: null })],
      [
        "malformed header",
        () => deliverSigned(stack, payload, { signature: "v1=abc,t=notanumber" }),
      ],
      ["empty header", () => deliverSigned(stack, payload, { signature: "" })],
      [
        "wrong secret",
        () => deliverSigned(stack, payload, { secret: "whsec_someoneElsesSecret00" }),
      ],
      ["tampered body", async () => {
        const signature = await signatureHeader(stack.webhookSecret, payload);
        return deliverSigned(stack, payload.replace('"paid"', '"unpaid"'), { signature });
      }],
      ["timestamp older than 300 s", () => deliverSigned(stack, payload, { timestamp: now - 301 })],
    ];
    for (const [name, deliver] of cases) {
      await t.step(name, async () => {
        const answer = await deliver();
        assert.equal(answer.status, 400, answer.body);
        assert.equal(JSON.parse(answer.body).error.code, "invalid_signature");
        await assertNothingWritten(stack, orderId);
      });
    }

    await t.step("the same body correctly signed is applied", async () => {
      const answer = await deliverSigned(stack, payload, { timestamp: now - 250 });
      assert.equal(answer.status, 200, answer.body);
      assert.equal((await orderState(stack.sql, orderId)).status, "paid");
    });

    await t.step("a GET is 405 and writes nothing", async () => {
      const response = await fetch(`${stack.functionsUrl}/stripe-webhook`);
      assert.equal(response.status, 405);
      assert.equal((await response.json()).error.code, "method_not_allowed");
      assert.equal((await eventRows(stack.sql)).length, 1);
    });
  },
);

Deno.test(
  "during a secret rotation the function accepts both secrets and no other",
  INTEGRATION,
  async () => {
    // The function restarts with the new and the old secret; the emulator signs with the new.
    await using stack = await startTestStack({
      stripeWebhookSecret: `${NEW_SECRET},${OLD_SECRET}`,
    });
    await emulator(stack).setWebhooks({ auto: false });

    const signedNew = await paidEventFor(stack);
    assert.equal(
      (await deliverSigned(stack, signedNew.payload, { secret: NEW_SECRET })).status,
      200,
    );
    const signedOld = await paidEventFor(stack);
    assert.equal(
      (await deliverSigned(stack, signedOld.payload, { secret: OLD_SECRET })).status,
      200,
    );
    const signedOther = await paidEventFor(stack);
    const other = await deliverSigned(stack, signedOther.payload, {
      secret: "whsec_retiredSecretOfTheEndpoint",
    });
    assert.equal(other.status, 400);

    assert.equal((await orderState(stack.sql, signedNew.orderId)).status, "paid");
    assert.equal((await orderState(stack.sql, signedOld.orderId)).status, "paid");
    assert.equal((await orderState(stack.sql, signedOther.orderId)).status, "pending");
    assert.equal((await eventRows(stack.sql)).length, 2);
  },
);

Deno.test(
  "the handler in-process checks the signature's age against its own clock",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const { orderId, payload } = await paidEventFor(stack);
    let nowMs = Date.now();
    const handler = createWebhookHandler({
      rpc: rpcOf(createDb(stack.apiUrl, stack.serviceRoleKey)),
      stripe: stripeOf(stack),
      config: { STRIPE_WEBHOOK_SECRET: [OLD_SECRET, NEW_SECRET] },
      now: () => nowMs,
    });
    const signature = await signatureHeader(OLD_SECRET, payload, Math.floor(nowMs / 1000));
    const post = () =>
      handler(
        new Request("http://x/", {
          method: "POST",
          headers: { "stripe-signature": signature },
          body: payload,
        }),
      );

    nowMs += 301_000; // the same delivery replayed five minutes later
    assert.equal((await post()).status, 400);
    assert.equal((await eventRows(stack.sql)).length, 0);

    nowMs -= 301_000;
    const answer = await post();
    assert.equal(answer.status, 200);
    assert.deepEqual(await answer.json(), { received: true, outcome: "processed" });
    const again = await post();
    assert.deepEqual(await again.json(), { received: true, outcome: "duplicate" });
    assert.equal((await orderState(stack.sql, orderId)).status, "paid");
  },
);

Deno.test("the webhook configuration names a missing or malformed variable", () => {
  const good = {
    SUPABASE_URL: "http://127.0.0.1:54321",
    SUPABASE_SERVICE_ROLE_KEY: "service-role-key",
    STRIPE_SECRET_KEY: "sk_test_123",
    STRIPE_WEBHOOK_SECRET: ` ${NEW_SECRET} , ${OLD_SECRET} `,
  };
  assert.deepEqual(parseWebhookConfig(good).STRIPE_WEBHOOK_SECRET, [NEW_SECRET, OLD_SECRET]);
  assert.throws(
    () => parseWebhookConfig({ ...good, STRIPE_WEBHOOK_SECRET: undefined }),
    /STRIPE_WEBHOOK_SECRET is required/,
  );
  assert.throws(
    () => parseWebhookConfig({ ...good, STRIPE_WEBHOOK_SECRET: "whsec_okButShortNot,nope" }),
    /STRIPE_WEBHOOK_SECRET has a value that is not a whsec_/,
  );
  assert.throws(
    () => parseWebhookConfig({ ...good, SUPABASE_SERVICE_ROLE_KEY: undefined }),
    /SUPABASE_SERVICE_ROLE_KEY is required/,
  );
  assert.throws(
    () => parseWebhookConfig({ ...good, STRIPE_SECRET_KEY: "pk_test_1" }),
    /STRIPE_SECRET_KEY/,
  );
});
