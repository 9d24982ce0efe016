-- Moving an order along its state machine (order_status_transitions): the one function
-- the webhook and the cleanup use to change an order's status after checkout.
-- One allowed transition of a locked order, with what comes with it: stock back
-- (exactly once), outbox messages, and, when the order becomes paid, the refunds that
-- arrived before the payment. Returns a description such as 'pending -> paid'.
create or replace function public.move_order(
  p_order_id uuid,
  p_to text,
  p_event_id text,
  p_payment_intent text default null
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
  v_releases boolean;
  v_detail text;
  v_deferred public.stripe_webhook_events;
  v_now timestamptz := clock_timestamp();
begin
  select * into v_order from public.orders o where o.id = p_order_id for update;
  select t.releases_stock into v_releases from public.order_status_transitions t
  where t.from_status = v_order.status and t.to_status = p_to;
  if v_releases is null then
    raise exception 'order % cannot move from % to %', p_order_id, v_order.status, p_to
      using errcode = '23514';
  end if;

  update public.orders o
  set status = p_to,
      paid_at = case when p_to = 'paid' then coalesce(o.paid_at, v_now) else o.paid_at end,
      payment_intent_id = coalesce(p_payment_intent, o.payment_intent_id),
      updated_at = v_now
  where o.id = p_order_id;
  v_detail := v_order.status || ' -> ' || p_to;

  if v_releases then
    perform public.release_order_stock(p_order_id);
  end if;

  if p_to in ('paid', 'payment_failed', 'refunded', 'expired') then
    -- One message per order and outcome: fulfilment and emails happen once.
    perform public.enqueue_outbox('order.' || p_to, 'order.' || p_to || ':' || p_order_id,
      p_order_id, p_event_id, jsonb_build_object(
        'order_id', p_order_id, 'email', v_order.email, 'user_id', v_order.user_id,
        'amount_total', v_order.amount_total, 'currency', v_order.currency,
        'checkout_session_id', v_order.checkout_session_id,
        'payment_intent_id', coalesce(p_payment_intent, v_order.payment_intent_id)));
  end if;

  if p_to = 'paid' then
    for v_deferred in
      select * from public.stripe_webhook_events e
      where e.order_id = p_order_id and e.status = 'deferred'
      order by e.event_created, e.id
      for update
    loop
      update public.stripe_webhook_events e
      set status = 'processed', processed_at = v_now, updated_at = v_now,
          result = 'applied after the payment (' || p_event_id || '): ' ||
            public.refund_paid_order(p_order_id, v_deferred.payload -> 'data' -> 'object',
              v_deferred.stripe_event_id)
      where e.id = v_deferred.id;
      v_detail := v_detail || ', then deferred ' || v_deferred.stripe_event_id;
    end loop;
  end if;
  return v_detail;
end;
$$;

select private.restrict_to_service_role('public.move_order(uuid, text, text, text)');
