/**
 * 1,000 events from 500 real checkouts, each delivered twice in a shuffled order, 20
 * at a time, by the emulator (signing and delivering) to the endpoint: every effect
 * exactly once, nothing lost.
 */
import assert from "node:assert/strict";
import { BEANS, emulator, INTEGRATION, stockOf } from "./checkout_helpers.ts";
import {
  type CreatedCheckout,
  guestCheckouts,
  inBatches,
  startManualWebhookStack,
} from "./webhook_helpers.ts";

const ORDERS = 500;
const CONCURRENCY = 20;
const INITIAL_STOCK = 10_000;

function shuffle<T>(items: T[]): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [copy[i], copy[j]] = [copy[j] as T, copy[i] as T];
  }
  return copy;
}

Deno.test(
  "1,000 events delivered twice each, shuffled, 20 at a time: every effect once",
  INTEGRATION,
  async () => {
    await using stack = await startManualWebhookStack();
    const control = emulator(stack);
    await stack.sql`update public.products set stock = ${INITIAL_STOCK} where id = ${BEANS}`;

    const checkouts: CreatedCheckout[] = await guestCheckouts(stack, ORDERS, CONCURRENCY);
    // Half pay by card and are refunded in full; half pay with a delayed method that fails.
    const refunded = checkouts.slice(0, ORDERS / 2);
    const failed = checkouts.slice(ORDERS / 2);
    await inBatches(refunded, CONCURRENCY, async (c) => {
      await control.pay(c.checkout_session_id, { method: "card" });
      await control.refund(c.checkout_session_id);
    });
    await inBatches(failed, CONCURRENCY, async (c) => {
      await control.pay(c.checkout_session_id, { method: "delayed", outcome: "failed" });
      await control.settleAsync(c.checkout_session_id, "failed");
    });

    const events = (await control.events()).data;
    assert.equal(events.length, 2 * ORDERS);
    let queue = shuffle([...events, ...events].map((e) => e.id));
    const answers = new Map<number, number>();
    let rounds = 0;
    while (queue.length > 0) {
      assert.ok(++rounds <= 20, `still ${queue.length} deliveries without a 2xx`);
      const retry: string[] = [];
      for (let i = 0; i < queue.length; i += CONCURRENCY) {
        const ids = queue.slice(i, i + CONCURRENCY);
        const { statuses } = await control.deliverEvents(ids, { concurrent: true });
        statuses.forEach((status, k) => {
          answers.set(status, (answers.get(status) ?? 0) + 1);
          // Stripe retries anything but a 2xx; a 409 (in flight) is the only other answer expected.
          if (status !== 200) retry.push(ids[k] ?? "");
        });
      }
      queue = retry;
    }
    assert.deepEqual([...answers.keys()].filter((s) => s !== 200 && s !== 409), []);

    const [summary] = await stack.sql<
      {
        events: number;
        processed: number;
        applied_once: number;
        refunded: number;
        payment_failed: number;
        released: number;
        paid_at: number;
      }[]
    >`
    select
      (select count(*)::int from public.stripe_webhook_events) as events,
      (select count(*)::int from public.stripe_webhook_events where status = 'processed') as processed,
      (select count(*)::int from public.stripe_webhook_events where attempts = 1) as applied_once,
      (select count(*)::int from public.orders where status = 'refunded') as refunded,
      (select count(*)::int from public.orders where status = 'payment_failed') as payment_failed,
      (select count(*)::int from public.orders where stock_released_at is not null) as released,
      (select count(*)::int from public.orders where paid_at is not null) as paid_at`;
    assert.deepEqual(summary, {
      events: 2 * ORDERS,
      processed: 2 * ORDERS,
      applied_once: 2 * ORDERS,
      refunded: ORDERS / 2,
      payment_failed: ORDERS / 2,
      released: ORDERS / 2,
      paid_at: ORDERS / 2,
    });
    const outbox = await stack.sql<{ topic: string; n: number }[]>`
    select topic, count(*)::int as n from public.outbox group by topic order by topic`;
    assert.deepEqual(outbox.map((r) => [r.topic, r.n]), [
      ["order.paid", ORDERS / 2],
      ["order.payment_failed", ORDERS / 2],
      ["order.refunded", ORDERS / 2],
    ]);
    // Refunds do not restock (the goods may have shipped); failed payments give stock back once.
    assert.equal(await stockOf(stack, BEANS), INITIAL_STOCK - ORDERS / 2);
  },
);
