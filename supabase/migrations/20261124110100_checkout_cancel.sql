-- Cancelling a checkout (README, "Cancelling a checkout"): the shopper who lands on
-- cancel_url gives the reservation back at once instead of holding stock until the
-- session expires. The order is named by its id and proved by the client key that
-- created it (scope + Idempotency-Key); only a pending order is released, through the
-- order lifecycle (pending -> expired: stock back once, order.expired queued), under
-- the same row lock as the webhook's moves, so a payment and a cancel never both win.
alter table public.orders add column cancelled_at timestamptz;

-- A cancel expires the order's Checkout Session at Stripe before it gives the stock back
-- (README, "Cancelling a checkout"). Releasing first let a shopper who paid in another tab
-- just before the cancel keep a payment for stock that went back (sold twice, refunded by
-- hand). Stripe's expiry is the fence: once it answers expired, nobody can pay the session;
-- when it refuses (the session completed: a payment is under way) the order keeps its
-- reservation and the webhook settles it.
--
-- cancel_checkout answers 'expire_first' (nothing changed) for a pending order whose
-- session may still be open; the caller expires it (operation checkout:expire) and calls
-- again with p_expired_session_id, the session Stripe answered expired. A pending order
-- without a session yet is released at once: the checkout creating its session finds the
-- order closed at record_checkout and expires that session itself before handing it out.

create type public.checkout_cancel as (
  outcome text, -- released | paid | not_found | expire_first
  order_status text,
  checkout_session_id text
);

create function public.cancel_checkout(
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
    return row('released', v_order.status, v_order.checkout_session_id)::public.checkout_cancel;
  end if;
  -- Paid (or refunded), or awaiting_payment: a delayed payment is under way and may
  -- still succeed. Any status added later is refused too until it is listed above.
  return row('paid', v_order.status, v_order.checkout_session_id)::public.checkout_cancel;
end;
$$;

select private.restrict_to_service_role('public.cancel_checkout(text, text, uuid, text)');
