import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import {
  callCheckout,
  emulator,
  guestBody,
  INTEGRATION,
  KETTLE,
  sessionsCreated,
  stockOf,
  userBody,
  writtenRows,
} from "./checkout_helpers.ts";

Deno.test("checkout request idempotency", INTEGRATION, async (t) => {
  await using stack = await startTestStack();

  await t.step("creates an order and a session, then replays the stored response", async () => {
    const key = crypto.randomUUID();
    const first = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(first.status, 201, first.text);
    assert.equal(first.headers.get("idempotent-replayed"), null);
    assert.match(String(first.json.checkout_session_id), /^cs_/);
    assert.equal(first.json.status, "pending");
    assert.equal(first.json.amount_total, 4800);
    assert.equal(first.json.currency, "usd");
    assert.match(String(first.json.expires_at), /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const again = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(again.status, 200);
    assert.equal(again.headers.get("idempotent-replayed"), "true");
    assert.equal(again.text, first.text, "the replay is byte-for-byte the first body");
    assert.equal(await sessionsCreated(stack), 1);
  });

  await t.step("a replay costs 1 database call and 0 Stripe calls", async () => {
    const key = crypto.randomUUID();
    assert.equal((await callCheckout(stack, "guest-checkout", { key })).status, 201);
    stack.counters.reset();
    const before = await emulator(stack).counters();
    const replay = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(replay.status, 200);
    const after = await emulator(stack).counters();
    assert.equal(stack.counters.rpc(), 1);
    assert.equal(stack.counters.rpc("claim_and_begin_checkout"), 1);
    const stripeCalls = (c: typeof before) => Object.values(c.calls).reduce((a, b) => a + b, 0);
    assert.equal(stripeCalls(after) - stripeCalls(before), 0);
  });

  await t.step(
    "a fresh guest checkout costs 2 database calls and 1 Stripe call",
    async () => {
      stack.counters.reset();
      const before = await emulator(stack).counters();
      const fresh = await callCheckout(stack, "guest-checkout", {});
      assert.equal(fresh.status, 201, fresh.text);
      const after = await emulator(stack).counters();
      // claim_and_begin_checkout → record_checkout: the budget is 2.
      assert.equal(stack.counters.rpc(), 2);
      for (const fn of ["claim_and_begin_checkout", "record_checkout"]) {
        assert.equal(stack.counters.rpc(fn), 1, fn);
      }
      assert.equal(
        (after.calls["POST /v1/checkout/sessions"] ?? 0) -
          (before.calls["POST /v1/checkout/sessions"] ?? 0),
        1,
      );
    },
  );

  await t.step(
    "the same key with a different body is refused with 422 and changes nothing",
    async () => {
      const key = crypto.randomUUID();
      const first = await callCheckout(stack, "guest-checkout", { key });
      assert.equal(first.status, 201);
      const rowsBefore = await writtenRows(stack);
      const stock = await stockOf(stack, KETTLE);
      const other = await callCheckout(stack, "guest-checkout", {
        key,
        body: guestBody({ items: [{ product_id: KETTLE, quantity: 1 }] }),
      });
      assert.equal(other.status, 422);
      assert.equal((other.json.error as { code: string }).code, "idempotency_key_reused");
      assert.deepEqual(await writtenRows(stack), rowsBefore);
      assert.equal(await stockOf(stack, KETTLE), stock);
      // The original is still replayed for the original body.
      assert.equal((await callCheckout(stack, "guest-checkout", { key })).text, first.text);
    },
  );

  await t.step("key order and whitespace in the body do not change the fingerprint", async () => {
    const key = crypto.randomUUID();
    const body = guestBody();
    const first = await callCheckout(stack, "guest-checkout", { key, body });
    const reordered = `{ "cancel_url": ${JSON.stringify(body.cancel_url)},\n  "success_url": ${
      JSON.stringify(body.success_url)
    }, "items": [{"quantity": 2, "product_id": ${
      JSON.stringify((body.items as { product_id: string }[])[0]?.product_id)
    }}], "email": "ada@example.com" }`;
    const replay = await callCheckout(stack, "guest-checkout", { key, body: reordered });
    assert.equal(replay.status, 200, replay.text);
    assert.equal(replay.text, first.text);
  });

  await t.step("two users with the same key get two independent orders", async () => {
    const key = "shared-key-1";
    const [a, b] = await Promise.all(
      [crypto.randomUUID(), crypto.randomUUID()].map(async (sub) =>
        callCheckout(stack, "enhanced-checkout", {
          key,
          token: await stack.mintUserToken({ sub, email: `${sub}@example.com` }),
          body: userBody(),
        })
      ),
    );
    assert.equal(a?.status, 201, a?.text);
    assert.equal(b?.status, 201, b?.text);
    assert.notEqual(a?.json.order_id, b?.json.order_id);
    assert.notEqual(a?.json.checkout_session_id, b?.json.checkout_session_id);
  });

  await t.step("a guest request never replays a user's order", async () => {
    const key = "shared-key-2";
    const sub = crypto.randomUUID();
    const token = await stack.mintUserToken({ sub, email: "u@example.com" });
    const user = await callCheckout(stack, "enhanced-checkout", { key, token, body: userBody() });
    assert.equal(user.status, 201, user.text);
    const guest = await callCheckout(stack, "guest-checkout", { key });
    assert.equal(guest.status, 201, guest.text);
    assert.equal(guest.headers.get("idempotent-replayed"), null);
    assert.notEqual(guest.json.order_id, user.json.order_id);
    const [order] = await stack.sql<{ scope: string; user_id: string | null }[]>`
      select scope, user_id from public.orders where id = ${String(guest.json.order_id)}`;
    assert.deepEqual(order, { scope: "guest", user_id: null });
  });

  await t.step("an enhanced checkout reuses the user's one Stripe Customer", async () => {
    const sub = crypto.randomUUID();
    const token = await stack.mintUserToken({ sub, email: "again@example.com" });
    const before = (await emulator(stack).counters()).created.customer;
    for (let i = 0; i < 3; i++) {
      assert.equal(
        (await callCheckout(stack, "enhanced-checkout", { token, body: userBody() })).status,
        201,
      );
    }
    assert.equal((await emulator(stack).counters()).created.customer - before, 1);
    const rows = await stack.sql`select 1 from public.stripe_customers where user_id = ${sub}`;
    assert.equal(rows.length, 1);
  });

  await t.step(
    "an enhanced checkout adds only the first-time Customer operation to the 2 calls",
    async () => {
      const token = await stack.mintUserToken({ sub: crypto.randomUUID(), email: "n@example.com" });
      const stripeCalls = async () => (await emulator(stack).counters()).calls;
      const run = async () => {
        stack.counters.reset();
        const before = await stripeCalls();
        const res = await callCheckout(stack, "enhanced-checkout", { token, body: userBody() });
        assert.equal(res.status, 201, res.text);
        const after = await stripeCalls();
        const made = (path: string) => (after[path] ?? 0) - (before[path] ?? 0);
        return {
          // The checkout's own: Stripe's customer.created event reaches stripe-webhook
          // (apply_stripe_event) whenever the emulator delivers it.
          rpcs: stack.counters.rpc() - stack.counters.rpc("apply_stripe_event"),
          sessions: made("POST /v1/checkout/sessions"),
          customers: made("POST /v1/customers"),
        };
      };
      // The first: the claim, then the Customer (begin_customer → Stripe → record_customer),
      // then begin_checkout on its own, Stripe, record.
      assert.deepEqual(await run(), { rpcs: 5, sessions: 1, customers: 1 });
      for (const fn of ["begin_customer", "record_customer", "begin_checkout"]) {
        assert.equal(stack.counters.rpc(fn), 1, fn);
      }
      // A returning user's Customer is read inside claim_and_begin_checkout: 2 calls.
      assert.deepEqual(await run(), { rpcs: 2, sessions: 1, customers: 0 });
      for (const fn of ["claim_and_begin_checkout", "record_checkout"]) {
        assert.equal(stack.counters.rpc(fn), 1, fn);
      }
    },
  );
});
