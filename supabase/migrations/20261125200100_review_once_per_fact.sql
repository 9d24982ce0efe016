-- One fact, one review. A payment the order cannot take (another amount or currency,
-- another session, an order already closed) was flagged once per delivery path: the
-- webhook's event and every checkout-status poll of the landing page (the order stays
-- pending, so each poll applies the session again) each queued an order.needs_review and
-- appended the reason. The reason names the facts (session, payment intent, amounts), so
-- it keys the message: the same fact arriving again, by whatever path or event, changes
-- nothing; a different fact still reaches a human.
create or replace function public.flag_order_for_review(p_order_id uuid, p_reason text, p_event_id text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  if not public.enqueue_outbox('order.needs_review',
      'order.needs_review:' || p_order_id || ':' || md5(p_reason),
      p_order_id, p_event_id, jsonb_build_object('order_id', p_order_id, 'reason', p_reason)) then
    return;
  end if;
  update public.orders o
  set needs_review = true,
      review_reason = left(coalesce(o.review_reason || '; ', '') || p_reason, 2000),
      updated_at = clock_timestamp()
  where o.id = p_order_id;
end;
$$;

select private.restrict_to_service_role('public.flag_order_for_review(uuid, text, text)');
