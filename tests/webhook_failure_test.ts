/** A failure inside an event's effect: nothing half-applied, the failure recorded, retried. */
import assert from "node:assert/strict";
import { supabaseClient } from "./harness.ts";
import { DRIPPER, emulator, INTEGRATION, stockOf } from "./checkout_helpers.ts";
import {
  eventRows,
  guestCheckout,
  orderState,
  outboxTopics,
  requireEvent,
  runOps,
  sessionEvents,
  startManualWebhookStack,
  submitHostedPage,
} from "./webhook_helpers.ts";

Deno.test(
  "an effect that raises answers 500, rolls back, counts attempts, and succeeds once fixed",
  INTEGRATION,
  async () => {
    await using stack = await startManualWebhookStack();
    const control = emulator(stack);
    const before = await stockOf(stack, DRIPPER);
    const checkout = await guestCheckout(stack, [{ product_id: DRIPPER, quantity: 2 }]);
    await submitHostedPage(checkout.checkout_url, "pay_delayed_fail");
    await control.settleAsync(checkout.checkout_session_id, "failed");
    const events = await sessionEvents(stack, checkout.checkout_session_id);
    const completed = requireEvent(events, "checkout.session.completed");
    const failed = requireEvent(events, "checkout.session.async_payment_failed");
    assert.deepEqual((await control.deliverEvent(completed.id)).statuses, [200]);

    // The stock release is the last write of the effect: it fails after the order moved.
    await stack.sql.unsafe(`
    create function public.test_refuse_release() returns trigger language plpgsql as $$
    begin raise exception 'stock service is down'; end $$;
    create trigger test_refuse_release before update of stock_released_at on public.orders
      for each row when (new.id = '${checkout.order_id}') execute function public.test_refuse_release();`);

    const { statuses } = await control.deliverEvent(failed.id, { times: 2 });
    assert.deepEqual(statuses, [500, 500]);
    const order = await orderState(stack.sql, checkout.order_id);
    assert.equal(
      order.status,
      "awaiting_payment",
      "the transition was rolled back with the release",
    );
    assert.equal(order.stock_released, false);
    assert.equal(await stockOf(stack, DRIPPER), (before ?? 0) - 2);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), []);
    const row = (await eventRows(stack.sql)).find((r) => r.stripe_event_id === failed.id);
    assert.equal(row?.status, "failed");
    assert.equal(row?.attempts, 2);
    assert.match(row?.last_error ?? "", /stock service is down/);

    const { data: report, error } = await supabaseClient(stack, stack.serviceRoleKey).rpc(
      "webhook_ops_report",
      { p_min_attempts: 2 },
    );
    assert.equal(error, null);
    assert.deepEqual(
      (report as { failing_events: { stripe_event_id: string }[] }).failing_events.map((e) =>
        e.stripe_event_id
      ),
      [failed.id],
    );

    // The operator task shows the same thing and exits 1 (something needs attention).
    const { code, stdout: printed, stderr } = await runOps(stack);
    assert.equal(code, 1, stderr);
    assert.match(printed, new RegExp(`${failed.id} +checkout\\.session\\.async_payment_failed`));
    assert.match(printed, /stock service is down/);

    await stack.sql.unsafe(`drop trigger test_refuse_release on public.orders`);
    assert.deepEqual((await control.deliverEvent(failed.id)).statuses, [200]);
    const fixed = await orderState(stack.sql, checkout.order_id);
    assert.equal(fixed.status, "payment_failed");
    assert.equal(fixed.stock_released, true);
    assert.equal(await stockOf(stack, DRIPPER), before);
    assert.deepEqual(await outboxTopics(stack.sql, checkout.order_id), ["order.payment_failed"]);
    const done = (await eventRows(stack.sql)).find((r) => r.stripe_event_id === failed.id);
    assert.equal(done?.status, "processed");
    assert.equal(done?.attempts, 3);

    // Applied once: later deliveries are duplicates and change nothing.
    assert.deepEqual((await control.deliverEvent(failed.id)).statuses, [200]);
    assert.equal(await stockOf(stack, DRIPPER), before);
  },
);
