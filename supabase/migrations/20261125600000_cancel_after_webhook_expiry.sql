-- cancel_checkout, replaced: when the session this cancel expired at Stripe was reported
-- expired to the webhook before the cancel's second call (Stripe delivers
-- checkout.session.expired at once), the webhook moved the order to expired and the
-- cancel found it closed and left cancelled_at empty. The cancel that expired the order's
-- own session now sets cancelled_at there too (README, "Cancelling a checkout").

create or replace function public.cancel_checkout(
  p_scope text,
  p_idempotency_key text,
  p_order_id uuid,
  p_expired_session_id text default null
)
returns public.checkout_cancel
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
begin
  select * into v_order from public.orders o
  where o.id = p_order_id and o.scope = p_scope and o.idempotency_key = p_idempotency_key
  for update;
  if v_order.id is null then
    return row('not_found', null, null)::public.checkout_cancel;
  end if;
  if v_order.status = 'pending' then
    if v_order.checkout_session_id is not null and v_order.checkout_session_closed_at is null
       and p_expired_session_id is distinct from v_order.checkout_session_id then
      return row('expire_first', v_order.status, v_order.checkout_session_id)
        ::public.checkout_cancel;
    end if;
    perform public.move_order(v_order.id, 'expired', 'cancel');
    update public.orders o
    set cancelled_at = clock_timestamp(),
        checkout_session_closed_at = case when p_expired_session_id = o.checkout_session_id
          then coalesce(o.checkout_session_closed_at, clock_timestamp())
          else o.checkout_session_closed_at end
    where o.id = v_order.id;
    return row('released', 'expired', v_order.checkout_session_id)::public.checkout_cancel;
  end if;
  -- Ended unpaid already: its stock is back; the same answer as the cancel that did it.
  if v_order.status in ('expired', 'payment_failed', 'failed') then
    -- This cancel expired the session, and Stripe's checkout.session.expired for that expiry
    -- reached the webhook first: the order ended because the shopper cancelled it.
    if v_order.status = 'expired' and v_order.cancelled_at is null
       and p_expired_session_id is not null
       and p_expired_session_id = v_order.checkout_session_id then
      update public.orders o set cancelled_at = clock_timestamp() where o.id = v_order.id;
    end if;
    return row('released', v_order.status, v_order.checkout_session_id)::public.checkout_cancel;
  end if;
  -- Paid (or refunded), or awaiting_payment: a delayed payment is under way and may
  -- still succeed. Any status added later is refused too until it is listed above.
  return row('paid', v_order.status, v_order.checkout_session_id)::public.checkout_cancel;
end;
$$;

select private.restrict_to_service_role('public.cancel_checkout(text, text, uuid, text)');
