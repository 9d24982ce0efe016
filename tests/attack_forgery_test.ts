/**
 * Forgery on the real stack: webhook deliveries Stripe did not sign (another secret, a stale or
 * shifted timestamp, bytes added around a signed body), and calls of the secret-key functions
 * (refund-order, stripe-reconcile, outbox-dispatch) with every key that is not the project's
 * secret key. Each answers 400 / 401 and leaves no trace: no row, no Stripe call, no delivery.
 */
import assert from "node:assert/strict";
import * as jose from "npm:jose@6.2.17";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  DRIPPER,
  emulator,
  guestBody,
  INTEGRATION,
  KETTLE,
  sleep,
  waitUntil,
} from "./checkout_helpers.ts";
import {
  chargeObject,
  createOrderInSql,
  deliverSigned,
  orderState,
  sessionObject,
  stripeEvent,
} from "./webhook_helpers.ts";
import { disputeObject, refundObject } from "./refund_helpers.ts";
import { computeSignature, signatureHeader } from "../local/stripe-emulator/signing.ts";
import { mintServiceRoleKey } from "../local/stack/jwt.ts";
import { assertAnswerShape, footprint } from "./attack_helpers.ts";

/** A paid order made the real way: checkout, the hosted page's payment, the webhook. */
async function paidOrder(stack: TestStack): Promise<{ orderId: string; sessionId: string }> {
  const response = await fetch(`${stack.functionsUrl}/guest-checkout`, {
    method: "POST",
    headers: { "content-type": "application/json", "idempotency-key": crypto.randomUUID() },
    body: JSON.stringify(guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] })),
  });
  const created = await response.json();
  assert.equal(response.status, 201, JSON.stringify(created));
  await emulator(stack).pay(created.checkout_session_id);
  await waitUntil(
    "the order is paid",
    async () => (await orderState(stack.sql, created.order_id)).status === "paid",
  );
  await emulator(stack).waitForDeliveries();
  return { orderId: created.order_id, sessionId: created.checkout_session_id };
}

Deno.test("webhook forgeries answer 400 and write nothing", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  await emulator(stack).setWebhooks({ auto: false });
  const orderId = crypto.randomUUID();
  const event = stripeEvent(
    "checkout.session.completed",
    sessionObject(orderId, `cs_test_${crypto.randomUUID().replaceAll("-", "")}`, {
      amount_total: 1000,
      payment_status: "paid",
    }),
  );
  const body = JSON.stringify(event);
  const secret = stack.webhookSecret.split(",")[0] ?? "";
  const now = Math.floor(Date.now() / 1000);
  const v1 = (payload: string, timestamp = now, key = secret) =>
    computeSignature(key, timestamp, payload);

  const forgeries: [string, string | Uint8Array<ArrayBuffer>, string | null][] = [
    ["no header", body, null],
    ["another endpoint's secret", body, await signatureHeader("whsec_someoneElse000000", body)],
    [
      "the secret without its whsec_ prefix",
      body,
      `t=${now},v1=${await v1(body, now, secret.slice(6))}`,
    ],
    ["signed 301 s ago", body, await signatureHeader(secret, body, now - 301)],
    ["signed a day ago", body, await signatureHeader(secret, body, now - 86_400)],
    ["signature for t, header says t+1", body, `t=${now + 1},v1=${await v1(body)}`],
    ["signature for t, header says t-1", body, `t=${now - 1},v1=${await v1(body)}`],
    ["a valid signature, trailing space", `${body} `, await signatureHeader(secret, body)],
    ["a valid signature, trailing newline", `${body}\n`, await signatureHeader(secret, body)],
    ["a valid signature, trailing NUL", `${body}\u0000`, await signatureHeader(secret, body)],
    [
      "a valid signature, a second event after it",
      `${body}${body}`,
      await signatureHeader(secret, body),
    ],
    ["a valid signature, leading BOM", `\ufeff${body}`, await signatureHeader(secret, body)],
    [
      "a valid signature, one field changed",
      body.replace('"paid"', '"unpaid"'),
      await signatureHeader(secret, body),
    ],
    [
      "a valid signature, trailing invalid UTF-8",
      new Uint8Array([...new TextEncoder().encode(body), 0xff]),
      await signatureHeader(secret, body),
    ],
    ["only a v0 signature", body, `t=${now},v0=${await v1(body)}`],
    ["upper-case hex", body, `t=${now},v1=${(await v1(body)).toUpperCase()}`],
    ["truncated signature", body, `t=${now},v1=${(await v1(body)).slice(0, 63)}`],
    ["no timestamp", body, `v1=${await v1(body)}`],
    ["timestamp not a number", body, `t=abc,v1=${await v1(body)}`],
    ["signature of the empty body", body, await signatureHeader(secret, "")],
    ["the secret itself as signature", body, `t=${now},v1=${secret}`],
  ];

  for (const [label, payload, signature] of forgeries) {
    await t.step(label, async () => {
      const before = await footprint(stack);
      const headers = new Headers({ "content-type": "application/json" });
      if (signature !== null) headers.set("stripe-signature", signature);
      const response = await fetch(`${stack.functionsUrl}/stripe-webhook`, {
        method: "POST",
        headers,
        body: payload,
      });
      const text = await response.text();
      assertAnswerShape(label, response.status, text);
      assert.equal(response.status, 400, `${label}: ${text}`);
      assert.equal(JSON.parse(text).error.code, "invalid_signature", label);
      assert.deepEqual(await footprint(stack), before, `${label}: something was written`);
    });
  }

  await t.step(
    "the same event, signed now, is let in (the forgeries were the only fault)",
    async () => {
      const answer = await deliverSigned(stack, body);
      assert.equal(answer.status, 200, answer.body);
      assert.equal(JSON.parse(answer.body).outcome, "ignored"); // no such order
    },
  );
});

Deno.test("secret-key functions refuse every other key and do nothing", INTEGRATION, async (t) => {
  await using stack = await startTestStack();
  const { orderId } = await paidOrder(stack);
  await waitUntil("the paid order's messages are delivered", async () => {
    const [row] = await stack.sql<{ open: number }[]>`
      select count(*)::int as open from public.outbox where status <> 'done'`;
    return row?.open === 0;
  });
  // The kicked dispatcher run ends with one more (empty) claim: let it finish.
  await sleep(500);
  // A message due now: a dispatcher let in would attempt it.
  await stack.sql`
    insert into public.outbox (topic, dedupe_key, payload)
    values ('test.forged', ${`atk:${crypto.randomUUID()}`}, '{}')`;

  const secret = stack.secretKey;
  const user = await stack.mintUserToken({ sub: crypto.randomUUID(), email: "u@example.com" });
  const claims = { role: "service_role", iss: "supabase-demo" };
  const serviceRoleOtherSecret = await mintServiceRoleKey(
    "another-projects-jwt-secret-of-32-chars!",
  );
  const serviceRoleNone = [{ alg: "none", typ: "JWT" }, claims]
    .map((part) => jose.base64url.encode(JSON.stringify(part))).join(".") + ".";
  const serviceRoleHs256WithPublicKey = await new jose.SignJWT(claims)
    .setProtectedHeader({ alg: "HS256" })
    .sign(new TextEncoder().encode(JSON.stringify(stack.jwks.keys[0])));
  const swapCase = (s: string) =>
    s.replace(/[a-z]/gi, (c) => c === c.toLowerCase() ? c.toUpperCase() : c.toLowerCase());

  const wrongKeys: [string, Record<string, string>][] = [
    ["no key", {}],
    ["the publishable key as apikey", { apikey: stack.publishableKey }],
    ["the publishable key as Bearer", { authorization: `Bearer ${stack.publishableKey}` }],
    ["the legacy anon key as apikey", { apikey: stack.anonKey }],
    ["the legacy anon key as Bearer", { authorization: `Bearer ${stack.anonKey}` }],
    ["a user's token", { authorization: `Bearer ${user}` }],
    ["a user's token and the publishable key", {
      authorization: `Bearer ${user}`,
      apikey: stack.publishableKey,
    }],
    ["a service_role JWT of another project", { apikey: serviceRoleOtherSecret }],
    ["a service_role JWT, alg none", { authorization: `Bearer ${serviceRoleNone}` }],
    ["a service_role JWT, HS256 over the public key", {
      authorization: `Bearer ${serviceRoleHs256WithPublicKey}`,
    }],
    ["the secret key truncated", { apikey: secret.slice(0, -1) }],
    ["the secret key's prefix", { apikey: secret.slice(0, 10) }],
    ["the secret key and one more character", { apikey: `${secret}0` }],
    ["the secret key upper-cased", { apikey: secret.toUpperCase() }],
    ["the secret key case-swapped", { apikey: swapCase(secret) }],
    ["the secret key with a space inside", {
      apikey: `${secret.slice(0, 12)} ${secret.slice(12)}`,
    }],
    ["another project's secret key", { apikey: `sb_secret_${crypto.randomUUID()}` }],
    ["the secret key in x-api-key", { "x-api-key": secret }],
    ["the secret key in x-supabase-key", { "x-supabase-key": secret }],
    ["the secret key as Authorization without Bearer", { authorization: secret }],
    ["the secret key as `bearer` (lower case)", { authorization: `bearer ${secret}` }],
    ["the secret key as Basic", { authorization: `Basic ${btoa(`${secret}:`)}` }],
    ["the secret key after two Bearers", { authorization: `Bearer Bearer ${secret}` }],
    ["the secret key in a cookie", { cookie: `apikey=${secret}` }],
    ["the Stripe secret key", { apikey: stack.stripeSecretKey }],
    ["the webhook secret", { apikey: stack.webhookSecret }],
    ["the JWT secret", { apikey: stack.jwtSecret }],
  ];

  const calls: [string, string, string][] = [
    ["refund-order", "refund-order", JSON.stringify({ order_id: orderId })],
    ["stripe-reconcile", "stripe-reconcile", "{}"],
    ["outbox-dispatch", "outbox-dispatch", "{}"],
    [
      "refund-order, key in the query string",
      `refund-order?apikey=${secret}`,
      JSON.stringify({
        order_id: orderId,
      }),
    ],
  ];
  const deliveriesBefore = stack.outboxSink.messages().length;
  for (const [fn, path, body] of calls) {
    for (const [label, keyHeaders] of wrongKeys) {
      await t.step(`${fn}: ${label} → 401`, async () => {
        const before = await footprint(stack);
        const response = await fetch(`${stack.functionsUrl}/${path}`, {
          method: "POST",
          headers: {
            "content-type": "application/json",
            "idempotency-key": crypto.randomUUID(),
            ...keyHeaders,
          },
          body,
        });
        const text = await response.text();
        assertAnswerShape(`${fn} ${label}`, response.status, text);
        assert.equal(response.status, 401, `${fn} ${label}: ${text}`);
        assert.equal(JSON.parse(text).error.code, "unauthorized");
        assert.deepEqual(await footprint(stack), before, `${fn} ${label}: something was done`);
      });
    }
  }
  assert.equal(stack.outboxSink.messages().length, deliveriesBefore, "no outbox delivery");
  assert.equal((await orderState(stack.sql, orderId)).status, "paid", "no refund");

  await t.step("the secret key itself is let in (the keys above were the only fault)", async () => {
    const response = await fetch(`${stack.functionsUrl}/refund-order`, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "idempotency-key": crypto.randomUUID(),
        apikey: secret,
      },
      body: JSON.stringify({ order_id: orderId, amount: 1 }),
    });
    assert.equal(response.status, 201, await response.text());
  });
});

Deno.test(
  "signed bodies that are not Stripe events answer 400 invalid_event and write nothing",
  INTEGRATION,
  async (t) => {
    await using stack = await startTestStack();
    await emulator(stack).setWebhooks({ auto: false });
    const { orderId, amount } = await createOrderInSql(stack.sql, DRIPPER, { unitAmount: 3200 });
    const sessionId = `cs_test_${crypto.randomUUID().replaceAll("-", "")}`;
    const paymentIntent = `pi_${crypto.randomUUID().replaceAll("-", "")}`;
    const paid = (fields: Record<string, unknown>) =>
      stripeEvent(
        "checkout.session.completed",
        sessionObject(orderId, sessionId, {
          amount_total: amount,
          payment_status: "paid",
          status: "complete",
          payment_intent: paymentIntent,
          ...fields,
        }),
      );
    const refundId = () => `re_${crypto.randomUUID().replaceAll("-", "")}`;
    const notEvents: [string, unknown][] = [
      ["NUL in a customer's name", paid({ customer_details: { name: "a\u0000b" } })],
      ["NUL in metadata.order_id", paid({ metadata: { order_id: `${orderId}\u0000` } })],
      ["a lone surrogate", paid({ customer_details: { name: "\ud800" } })],
      ["NUL in a key", paid({ ["a\u0000"]: 1 })],
      ["amount_total a string", paid({ amount_total: "3200" })],
      ["amount_total 1e30", paid({ amount_total: 1e30 })],
      ["amount_total a fraction", paid({ amount_total: amount + 0.5 })],
      ["amount_total negative", paid({ amount_total: -amount })],
      ["created a string", { ...paid({}), created: "yesterday" }],
      ["created 1e20", { ...paid({}), created: 1e20 }],
      ["livemode a string", { ...paid({}), livemode: "false" }],
      ["a 10 000-character type", { ...paid({}), type: "x".repeat(10_000) }],
      [
        "charge.refunded with amount_refunded a string",
        stripeEvent("charge.refunded", {
          ...chargeObject(orderId, paymentIntent, amount, amount),
          amount_refunded: "all",
        }),
      ],
      [
        "charge.refunded with a refund of a fractional amount",
        stripeEvent("charge.refunded", {
          ...chargeObject(orderId, paymentIntent, amount, amount),
          refunds: {
            object: "list",
            data: [{ ...refundObject(refundId(), paymentIntent, 1, "succeeded"), amount: 0.5 }],
          },
        }),
      ],
      [
        "refund.created with a negative amount",
        stripeEvent(
          "refund.created",
          refundObject(refundId(), paymentIntent, -100, "succeeded", { orderId }),
        ),
      ],
      [
        "refund.created with amount a string",
        stripeEvent("refund.created", {
          ...refundObject(refundId(), paymentIntent, 100, "succeeded", { orderId }),
          amount: "100",
        }),
      ],
      [
        "charge.dispute.created with amount a string",
        stripeEvent("charge.dispute.created", {
          ...disputeObject(
            `dp_${crypto.randomUUID().slice(0, 8)}`,
            paymentIntent,
            amount,
            "needs_response",
          ),
          amount: "x",
        }),
      ],
    ];
    for (const [label, event] of notEvents) {
      await t.step(label, async () => {
        const before = await footprint(stack);
        const answer = await deliverSigned(stack, JSON.stringify(event));
        assertAnswerShape(label, answer.status, answer.body);
        assert.equal(answer.status, 400, `${label}: ${answer.body}`);
        assert.equal(JSON.parse(answer.body).error.code, "invalid_event", label);
        assert.deepEqual(await footprint(stack), before, `${label}: something was written`);
      });
    }
    await t.step("a deeply nested signed body: no 5xx", async () => {
      const deep = "[".repeat(100_000) + "]".repeat(100_000);
      const body = JSON.stringify(paid({ deep: "DEEP" })).replace('"DEEP"', deep);
      const answer = await deliverSigned(stack, body);
      assertAnswerShape("deep", answer.status, answer.body);
      assert.equal(answer.status, 400, answer.body);
    });
    await t.step("the well-formed event pays the order", async () => {
      const answer = await deliverSigned(stack, JSON.stringify(paid({})));
      assert.equal(answer.status, 200, answer.body);
      assert.equal((await orderState(stack.sql, orderId)).status, "paid");
    });
  },
);
