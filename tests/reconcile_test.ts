/**
 * stripe-reconcile end to end (real stack, emulator, real concurrency): with the webhook
 * endpoint down, GET /v1/events is the only way payments, expiries and refunds reach the
 * database — every one must, once.
 */
import assert from "node:assert/strict";
import type { ReconcileSummary } from "../supabase/functions/_shared/reconcile.ts";
import { BEANS, emulator, INTEGRATION, stockOf, stripeOf, waitUntil } from "./checkout_helpers.ts";
import { startTestStack, type TestStack } from "./harness.ts";
import {
  type CreatedCheckout,
  emulatorEvents,
  eventRows,
  eventsOfSession,
  guestCheckouts,
  orderState,
  outboxTopics,
  submitHostedPage,
} from "./webhook_helpers.ts";

async function reconcile(stack: TestStack): Promise<ReconcileSummary> {
  const response = await fetch(`${stack.functionsUrl}/stripe-reconcile`, {
    method: "POST",
    headers: { apikey: stack.secretKey },
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`stripe-reconcile answered ${response.status}: ${text}`);
  }
  return JSON.parse(text);
}

Deno.test(
  "webhooks down, 200 checkouts paid, expired and refunded: two parallel reconcile runs settle every order once, and the late webhooks are duplicates",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    const stripe = stripeOf(stack, { maxNetworkRetries: 0 });
    await stack.sql`update public.products set stock = 1000 where id = ${BEANS}`;
    await control.stopWebhooks("hold");

    const all = await guestCheckouts(stack, 200);
    const paid = all.slice(0, 70);
    const expired = all.slice(70, 135);
    const refunded = all.slice(135);
    for (let i = 0; i < all.length; i += 20) {
      await Promise.all([
        ...paid.slice(i, i + 20).map((c) => control.pay(c.checkout_session_id)),
        ...expired.slice(i, i + 20).map((c) =>
          stripe.checkout.sessions.expire(c.checkout_session_id)
        ),
        ...refunded.slice(i, i + 20).map(async (c) => {
          await control.pay(c.checkout_session_id);
          await control.refund(c.checkout_session_id);
        }),
      ]);
    }
    const events = await emulatorEvents(stack);
    assert.equal(events.length, 70 + 65 + 2 * 65);
    assert.equal((await eventRows(stack.sql)).length, 0, "nothing reached the webhook");

    const [first, second] = await Promise.all([reconcile(stack), reconcile(stack)]);
    assert.equal(first?.failed, 0);
    assert.equal(second?.failed, 0);
    assert.equal(first.stopped, "caught_up");
    assert.equal(second.stopped, "caught_up");
    // Each event's effect applied by exactly one of the two runs.
    assert.equal(first.applied + second.applied, events.length);
    // The cursor: the newest event (or one of the same second: both are proven positions).
    const newest = Math.max(...events.map((e) => e.created));
    const [stored] = await stack.sql`select cursor_event_id from public.stripe_reconcile_state`;
    const cursor = stored?.cursor_event_id;
    assert.ok(
      events.some((e) => e.id === cursor && e.created === newest),
      `cursor ${cursor} is not among the newest events`,
    );

    const rows = await eventRows(stack.sql);
    assert.equal(rows.length, events.length, "0 events lost");
    assert.ok(rows.every((r) => r.status === "processed" && r.attempts === 1));
    const expectations: [CreatedCheckout[], string, string[]][] = [
      [paid, "paid", ["order.paid"]],
      [expired, "expired", ["order.expired"]],
      [refunded, "refunded", ["order.paid", "order.refunded"]],
    ];
    for (const [group, status, topics] of expectations) {
      for (const c of group) {
        assert.equal((await orderState(stack.sql, c.order_id)).status, status, c.order_id);
        assert.deepEqual(await outboxTopics(stack.sql, c.order_id), topics, c.order_id);
      }
    }
    // Expired orders gave their stock back; a refund does not restock (goods may have shipped).
    assert.equal(await stockOf(stack, BEANS), 1000 - 70 - 65);

    // The endpoint comes back and Stripe delivers everything it held: all duplicates.
    const outboxBefore = await stack.sql`select count(*)::int n from public.outbox`;
    await control.resumeWebhooks({ deliverPending: true });
    await waitUntil("held events delivered", async () => {
      const state = await control.webhooks();
      return state.pending === 0 &&
        state.deliveries.filter((d) => d.automatic && d.status === 200).length >= events.length;
    }, 30_000);
    const state = await control.webhooks();
    assert.ok(state.deliveries.filter((d) => d.automatic).every((d) => d.status === 200));
    const after = await eventRows(stack.sql);
    assert.deepEqual(after, rows, "the deliveries changed nothing");
    const outboxAfter = await stack.sql`select count(*)::int n from public.outbox`;
    assert.deepEqual(outboxAfter[0], outboxBefore[0]);

    const third = await reconcile(stack);
    assert.equal(third.applied, 0);
    assert.equal(third.cursor, cursor);
  },
);

Deno.test(
  "the cursor lives in the database: a later run reads only what is new, and a Stripe 429 keeps it",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    await control.stopWebhooks("hold");
    const [a] = await guestCheckouts(stack, 1);
    await control.pay(a!.checkout_session_id);
    const one = await reconcile(stack);
    assert.deepEqual([one.applied, one.stopped], [1, "caught_up"]);

    const [b, c] = await guestCheckouts(stack, 2);
    await control.pay(b!.checkout_session_id);
    await control.addFault({ route: "GET /v1/events", mode: "before", status: 429, times: 1 });
    const limited = await reconcile(stack);
    assert.equal(limited.stopped, "stripe_error");
    assert.match(limited.error ?? "", /429/);
    assert.equal(limited.cursor, one.cursor, "the cursor stays");
    assert.equal((await orderState(stack.sql, b!.order_id)).status, "pending");

    await control.pay(c!.checkout_session_id);
    const caughtUp = await reconcile(stack);
    assert.equal(caughtUp.stopped, "caught_up");
    assert.equal(caughtUp.applied, 2, "only the two new payments");
    assert.equal((await orderState(stack.sql, b!.order_id)).status, "paid");
    assert.equal((await orderState(stack.sql, c!.order_id)).status, "paid");
    const [row] = await stack.sql`select last_summary from public.stripe_reconcile_state`;
    assert.equal(row?.last_summary.applied, 2);
  },
);

Deno.test(
  "an order the cleanup released has its session expired at Stripe by the next run; paying it is refused",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    const stripe = stripeOf(stack, { maxNetworkRetries: 0 });
    const before = await stockOf(stack, BEANS);
    const [released] = await guestCheckouts(stack, 1);
    // Stripe's session is still open; our copy of its expiry says it ended 2 h ago.
    await stack.sql`update public.orders set checkout_expires_at = now() - interval '2 hours'
      where id = ${released!.order_id}`;
    await stack.sql`select * from public.cleanup_expired_idempotency_keys(100)`;
    assert.equal((await orderState(stack.sql, released!.order_id)).status, "expired");
    assert.equal(await stockOf(stack, BEANS), before);
    assert.equal(
      (await stripe.checkout.sessions.retrieve(released!.checkout_session_id)).status,
      "open",
    );

    const run = await reconcile(stack);
    assert.equal(run.expired, 1);
    assert.equal(
      (await stripe.checkout.sessions.retrieve(released!.checkout_session_id)).status,
      "expired",
    );
    const [operation] = await stack.sql`
      select status, stripe_idempotency_key from public.stripe_idempotency_keys
      where operation_type = 'checkout:expire' and operation_id = ${released!.order_id}`;
    assert.equal(operation?.status, "succeeded");
    assert.match(
      operation?.stripe_idempotency_key,
      new RegExp(`^checkout:expire:${released!.order_id}:`),
    );

    await assert.rejects(submitHostedPage(released!.checkout_url, "pay"));
    await control.waitForDeliveries();
    const again = await reconcile(stack);
    assert.equal(again.expired, 0, "recorded as closed: not expired twice");
    assert.equal((await control.counters()).calls["POST /v1/checkout/sessions/:id/expire"], 1);
    const order = await orderState(stack.sql, released!.order_id);
    assert.deepEqual([order.status, order.paid], ["expired", false]);
    assert.deepEqual(await outboxTopics(stack.sql, released!.order_id), ["order.expired"]);
  },
);

Deno.test("stripe-reconcile takes only a secret key, and only POST", INTEGRATION, async () => {
  await using stack = await startTestStack();
  const url = `${stack.functionsUrl}/stripe-reconcile`;
  for (
    const [init, status] of [
      [{ method: "POST" }, 401],
      [{ method: "POST", headers: { apikey: stack.anonKey } }, 401],
      [{ method: "GET", headers: { apikey: stack.serviceRoleKey } }, 405],
    ] as [RequestInit, number][]
  ) {
    const response = await fetch(url, init);
    assert.equal(response.status, status);
    assert.ok((await response.json()).error.code);
  }
});

Deno.test(
  "an event that keeps failing holds the cursor until it failed RECONCILE_MAX_ATTEMPTS times, then newer events move it on",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({ functionEnv: { RECONCILE_MAX_ATTEMPTS: "3" } });
    const control = emulator(stack);
    await control.stopWebhooks("hold");
    const [a, b, c, d] = await guestCheckouts(stack, 4);
    // Every attempt to apply b's payment raises (a bug, a broken trigger): it can never apply.
    await stack.sql.unsafe(`
      create function public.test_refuse_order() returns trigger language plpgsql as $$
      begin
        if new.id = '${b!.order_id}' then raise exception 'injected: order refused'; end if;
        return new;
      end $$;
      create trigger test_refuse_order before update on public.orders
        for each row execute function public.test_refuse_order();`);
    for (const checkout of [a!, b!, c!]) await control.pay(checkout.checkout_session_id);
    const eventOf = async (sessionId: string) => {
      const [event] = eventsOfSession(await emulatorEvents(stack), sessionId);
      assert.ok(event, `no event for ${sessionId}`);
      return event.id;
    };
    const failedRow = async () =>
      (await eventRows(stack.sql)).find((row) => row.stripe_event_id === bEvent);
    const bEvent = await eventOf(b!.checkout_session_id);

    const first = await reconcile(stack);
    assert.deepEqual([first.applied, first.given_up], [2, 0], JSON.stringify(first));
    assert.ok(first.failed >= 1);
    assert.equal(first.cursor, await eventOf(a!.checkout_session_id), "held before b");

    // Later runs retry b (its attempts climb) and keep the cursor until b has failed 3 times.
    let passed: ReconcileSummary | undefined;
    for (let run = 0; run < 4 && !passed; run++) {
      const attemptsBefore = (await failedRow())!.attempts;
      const summary = await reconcile(stack);
      if (summary.cursor !== first.cursor) passed = summary;
      else assert.ok(attemptsBefore < 3, `held after ${attemptsBefore} failures`);
    }
    assert.ok(passed, "the cursor passed the failing event");
    assert.ok(passed.given_up >= 1);
    assert.equal(passed.cursor, await eventOf(c!.checkout_session_id));
    const row = await failedRow();
    assert.equal(row?.status, "failed", "it stays failed for an operator");
    assert.ok(row!.attempts >= 3);
    assert.match(row?.last_error ?? "", /injected: order refused/);

    // A payment missed by the webhook after that is read by the next run.
    await control.pay(d!.checkout_session_id);
    const next = await reconcile(stack);
    assert.equal(next.applied, 1);
    assert.equal(next.cursor, await eventOf(d!.checkout_session_id));
    const statuses = await Promise.all(
      [a, b, c, d].map(async (x) => (await orderState(stack.sql, x!.order_id)).status),
    );
    assert.deepEqual(statuses, ["paid", "pending", "paid", "paid"]);
  },
);
