-- The landing page's view of an order (checkout-status, README "Fulfilment"): found by
-- its Checkout Session id, and, while the order is not final, confirmed with Stripe
-- through the same transition a webhook delivery runs (apply_checkout_session_event),
-- so whichever of webhook and landing page comes first fulfils, and the other changes
-- nothing. The webhook stays authoritative: this only applies what Stripe says.

-- When checkout-status last asked Stripe about the order's session (a throttle: one
-- look-up per session every few seconds, however many pages poll).
alter table public.orders add column status_checked_at timestamptz;

create type public.checkout_status as (
  -- unknown: no order has this session;
  -- final:   the order is past anything its session can still change;
  -- cached:  Stripe was asked less than the throttle ago: the stored answer;
  -- lookup:  the caller may ask Stripe now (the throttle slot is taken);
  -- applied: what Stripe said went through the webhook's transition;
  -- failed:  that transition raised and was rolled back (the stored answer).
  outcome text,
  order_id uuid,
  status text,
  amount_total integer,
  currency text,
  checkout_session_id text
);

create function public.checkout_status_of(p_order_id uuid, p_outcome text)
returns public.checkout_status
language sql
stable
set search_path = ''
as $$
  select row(p_outcome, o.id, o.status, o.amount_total, o.currency, o.checkout_session_id)
    ::public.checkout_status
  from public.orders o where o.id = p_order_id;
$$;

-- The statuses a Checkout Session can no longer change: the session is paid, or over.
create function public.order_status_is_final(p_status text)
returns boolean
language sql
immutable
set search_path = ''
as $$ select p_status in ('paid', 'refunded', 'payment_failed', 'expired', 'failed') $$;

create function public.checkout_status_by_session(
  p_checkout_session_id text,
  p_throttle_seconds integer default 5
)
returns public.checkout_status
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
begin
  select * into v_order from public.orders o where o.checkout_session_id = p_checkout_session_id;
  if v_order.id is null then
    return row('unknown', null, null, null, null, p_checkout_session_id)::public.checkout_status;
  end if;
  if public.order_status_is_final(v_order.status) then
    return public.checkout_status_of(v_order.id, 'final');
  end if;
  update public.orders o set status_checked_at = clock_timestamp()
  where o.id = v_order.id and (o.status_checked_at is null
    or o.status_checked_at <= clock_timestamp() - make_interval(secs => p_throttle_seconds));
  return public.checkout_status_of(v_order.id, case when found then 'lookup' else 'cached' end);
end;
$$;

-- Applies a Checkout Session as retrieved from Stripe. A complete session is what a
-- checkout.session.completed event carries (paid → paid, unpaid → awaiting_payment), an
-- expired one what checkout.session.expired carries; an open one changes nothing. The
-- session must be the one recorded on the order.
create function public.apply_checkout_session_status(p_session jsonb)
returns public.checkout_status
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_session_id text := p_session ->> 'id';
  v_order_id uuid;
  v_type text;
  v_state text;
  v_message text;
begin
  select o.id into v_order_id from public.orders o where o.checkout_session_id = v_session_id;
  if v_order_id is null or p_session ->> 'object' is distinct from 'checkout.session' then
    return row('unknown', null, null, null, null, v_session_id)::public.checkout_status;
  end if;
  v_type := case p_session ->> 'status'
    when 'complete' then 'checkout.session.completed'
    when 'expired' then 'checkout.session.expired'
  end;
  if v_type is not null then
    begin
      perform public.apply_checkout_session_event('checkout_status:' || v_session_id, v_type, p_session);
    exception when others then
      get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
      raise warning 'checkout status of session % not applied: %: %', v_session_id, v_state, v_message;
      return public.checkout_status_of(v_order_id, 'failed');
    end;
  end if;
  return public.checkout_status_of(v_order_id, 'applied');
end;
$$;

-- The success page asks checkout-status now; nothing else used this anon RPC.
drop function public.order_status_by_session(text);

select private.restrict_to_service_role(
  'public.checkout_status_of(uuid, text)',
  'public.order_status_is_final(text)',
  'public.checkout_status_by_session(text, integer)',
  'public.apply_checkout_session_status(jsonb)'
);
