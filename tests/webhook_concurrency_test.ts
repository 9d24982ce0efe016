/** Stripe delivers at least once, sometimes concurrently: each event's effect happens once. */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { DRIPPER, emulator, INTEGRATION, stockOf } from "./checkout_helpers.ts";
import {
  deliverSigned,
  eventRows,
  guestCheckout,
  orderState,
  outboxTopics,
  requireEvent,
  sessionEvents,
  submitHostedPage,
} from "./webhook_helpers.ts";

Deno.test(
  "one event delivered 20 times at once is applied once and never acknowledged early",
  INTEGRATION,
  async (t) => {
    await using stack = await startTestStack();
    const control = emulator(stack);
    await control.setWebhooks({ auto: false });
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
    await submitHostedPage(checkout.checkout_url, "pay");
    const completed = requireEvent(
      await sessionEvents(stack, checkout.checkout_session_id),
      "checkout.session.completed",
    );

    await t.step("the emulator delivers it 20 times concurrently", async () => {
      const { statuses } = await control.deliverEvent(completed.id, {
        times: 20,
        concurrent: true,
      });
      assert.equal(statuses.length, 20);
      assert.ok(statuses.every((s) => s === 200 || s === 409), `statuses: ${statuses.join(",")}`);
      assert.ok(statuses.includes(200));

      const rows = await eventRows(stack.sql);
      assert.equal(rows.length, 1);
      assert.equal(rows[0]?.status, "processed");
      assert.equal(rows[0]?.attempts, 1);
      assert.equal((await orderState(stack.sql, checkout.order_id)).status, "paid");
      assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
      assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 1);
    });

    await t.step(
      "an in-flight twin gets 409, and every 200 finds the effect committed",
      async () => {
        // A fresh order whose effect is slow, so the deliveries really overlap.
        const second = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
        await submitHostedPage(second.checkout_url, "pay");
        const event = requireEvent(
          await sessionEvents(stack, second.checkout_session_id),
          "checkout.session.completed",
        );
        await stack.sql.unsafe(`
      create function public.test_slow_update() returns trigger language plpgsql as $$
      begin perform pg_sleep(0.3); return new; end $$;
      create trigger test_slow_update before update on public.orders
        for each row when (new.id = '${second.order_id}') execute function public.test_slow_update();`);
        const payload = JSON.stringify(event, null, 2);
        const answers = await Promise.all(Array.from({ length: 20 }, async () => {
          const delivery = await deliverSigned(stack, payload);
          // Read the database the moment the answer arrives: a 2xx must mean committed.
          const status = (await orderState(stack.sql, second.order_id)).status;
          return { ...delivery, orderStatus: status };
        }));
        const codes = answers.map((a) => a.status);
        assert.ok(codes.every((s) => s === 200 || s === 409), `statuses: ${codes.join(",")}`);
        assert.ok(codes.includes(409), `no delivery met an in-flight twin: ${codes.join(",")}`);
        for (const answer of answers.filter((a) => a.status === 200)) {
          assert.equal(answer.orderStatus, "paid");
          assert.match(JSON.parse(answer.body).outcome, /^(processed|duplicate)$/);
        }
        for (const answer of answers.filter((a) => a.status === 409)) {
          assert.equal(JSON.parse(answer.body).error.code, "event_in_flight");
        }
        assert.equal(answers.filter((a) => JSON.parse(a.body).outcome === "processed").length, 1);
        assert.deepEqual(await outboxTopics(stack.sql, second.order_id), ["order.paid"]);
        const rows = (await eventRows(stack.sql)).filter((r) => r.stripe_event_id === event.id);
        assert.equal(rows.length, 1);
        assert.equal(rows[0]?.attempts, 1);
      },
    );
  },
);

Deno.test(
  "a delivery answered 500 is redelivered by Stripe and then applied once",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack();
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 1 }]);
    // The first attempt at the effect fails (a sequence is outside the rolled-back work).
    await stack.sql.unsafe(`
    create sequence public.test_fail_once;
    create function public.test_fail_once() returns trigger language plpgsql as $$
    begin
      if nextval('public.test_fail_once') = 1 then raise exception 'injected failure'; end if;
      return new;
    end $$;
    create trigger test_fail_once before update of status on public.orders
      for each row when (new.id = '${checkout.order_id}') execute function public.test_fail_once();`);

    await submitHostedPage(checkout.checkout_url, "pay");
    const state = await emulator(stack).waitForDeliveries();

    const attempts = state.deliveries.filter((d) => d.type === "checkout.session.completed");
    assert.deepEqual(attempts.map((d) => d.status), [500, 200]);
    const [row] = (await eventRows(stack.sql)).filter((r) =>
      r.type === "checkout.session.completed"
    );
    assert.equal(row?.status, "processed");
    assert.equal(row?.attempts, 2);
    assert.match(row?.last_error ?? "", /injected failure/);
    assert.equal((await orderState(stack.sql, checkout.order_id)).status, "paid");
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.paid"]);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 1);
  },
);
