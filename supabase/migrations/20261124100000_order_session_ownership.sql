-- Only the order's own Checkout Session pays it (README, "Which session pays").
-- Stripe signs every event, so a payload cannot be forged; what can exist is a second
-- genuine session carrying this order's id (a re-keyed attempt whose first session
-- Stripe did create, or one created with another API key). An order therefore pays
-- only through the session recorded on it, or, while none is recorded (the checkout
-- crashed between Stripe's answer and record_checkout), through the session whose
-- metadata.checkout_key is the Stripe idempotency key currently stored for the order's
-- open checkout:create operation. That key is a random UUID that never leaves our
-- database except in the create call itself, so no other session can carry it. Any
-- other session's payment flags the order for review (order.needs_review) and pays
-- nothing; its expiry or failure is ignored.

-- Was this session created by the order's own checkout:create operation?
create function public.session_created_under_order_key(p_order_id uuid, p_session jsonb)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1 from public.stripe_idempotency_keys s
    where s.operation_type = 'checkout:create' and s.operation_id = p_order_id::text
      and s.stripe_idempotency_key = p_session -> 'metadata' ->> 'checkout_key'
      and (s.status = 'open' or (s.status = 'succeeded' and s.stripe_resource_id = p_session ->> 'id'))
  );
$$;

create or replace function public.apply_checkout_session_event(p_event_id text, p_type text, p_session jsonb)
returns public.stripe_event_effect
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_session_id text := p_session ->> 'id';
  v_ref text := coalesce(nullif(p_session -> 'metadata' ->> 'order_id', ''),
    nullif(p_session ->> 'client_reference_id', ''));
  v_payment_status text := p_session ->> 'payment_status';
  -- payment_intent is an id, or an object when the payload was expanded.
  v_payment_intent text := coalesce(p_session -> 'payment_intent' ->> 'id',
    nullif(p_session ->> 'payment_intent', ''));
  v_order public.orders;
  v_target text;
  v_amount bigint;
  v_currency text;
  v_adopted boolean := false;
begin
  v_target := case p_type
    when 'checkout.session.completed' then case
      when v_payment_status in ('paid', 'no_payment_required') then 'paid'
      when v_payment_status = 'unpaid' then 'awaiting_payment' end
    when 'checkout.session.async_payment_succeeded' then 'paid'
    when 'checkout.session.async_payment_failed' then 'payment_failed'
    when 'checkout.session.expired' then 'expired'
  end;
  if v_target is null then
    return row('ignored', null, format('%s with payment_status %s is not handled', p_type,
      coalesce(v_payment_status, 'null')))::public.stripe_event_effect;
  end if;

  if v_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_order from public.orders o where o.id = v_ref::uuid for update;
  end if;
  if v_order.id is null and v_session_id is not null then
    select * into v_order from public.orders o where o.checkout_session_id = v_session_id for update;
  end if;
  if v_order.id is null then
    return row('ignored', null, format('no order %s for session %s', coalesce(v_ref, '(no reference)'),
      coalesce(v_session_id, '(no id)')))::public.stripe_event_effect;
  end if;

  -- The checkout function crashed after Stripe created the session but before it
  -- recorded it: the event is how we learn the session id, but only for the session
  -- created under the order's own stored Stripe key (README, "Which session pays").
  if v_order.checkout_session_id is null and v_session_id is not null then
    if public.session_created_under_order_key(v_order.id, p_session) then
      update public.orders o set checkout_session_id = v_session_id, updated_at = clock_timestamp()
      where o.id = v_order.id;
      v_order.checkout_session_id := v_session_id;
      v_adopted := true;
    elsif v_target <> 'paid' then
      return row('ignored', v_order.id, format(
        'session %s was not created under the order''s Stripe key', v_session_id))
        ::public.stripe_event_effect;
    else
      perform public.flag_order_for_review(v_order.id, format(
        'payment through session %s (payment_intent %s), which was not created under the order''s Stripe key',
        v_session_id, coalesce(v_payment_intent, 'none')), p_event_id);
      return row('processed', v_order.id, 'flagged: not the order''s session')
        ::public.stripe_event_effect;
    end if;
  end if;

  if v_order.checkout_session_id is distinct from v_session_id then
    -- Another session of this order (a re-keyed attempt, or one created elsewhere with
    -- our order id). Its expiry or failure says nothing about the order's own session ...
    if v_target <> 'paid' then
      return row('ignored', v_order.id, format('session %s is not the order''s session %s',
        v_session_id, v_order.checkout_session_id))::public.stripe_event_effect;
    end if;
    -- ... but its payment is real money: it never pays the order, it reaches a human.
    -- Paid however refunds followed (partially_refunded: added with refunds, later on).
    if v_order.status in ('paid', 'partially_refunded', 'refunded') and v_payment_intent is not distinct from v_order.payment_intent_id then
      return row('processed', v_order.id, 'no change: already ' || v_order.status)::public.stripe_event_effect;
    end if;
    if v_order.status in ('paid', 'partially_refunded', 'refunded') then
      perform public.flag_order_for_review(v_order.id, format(
        'second payment through session %s (payment_intent %s) for a %s order',
        v_session_id, coalesce(v_payment_intent, 'none'), v_order.status), p_event_id);
      return row('processed', v_order.id, 'flagged: second payment')::public.stripe_event_effect;
    end if;
    perform public.flag_order_for_review(v_order.id, format(
      'payment through session %s (payment_intent %s), which is not the order''s session %s',
      v_session_id, coalesce(v_payment_intent, 'none'), v_order.checkout_session_id), p_event_id);
    return row('processed', v_order.id, 'flagged: not the order''s session')::public.stripe_event_effect;
  end if;

  if v_target = 'paid' then
    v_amount := (p_session ->> 'amount_total')::bigint;
    v_currency := lower(p_session ->> 'currency');
    if v_currency is distinct from v_order.currency or v_amount is distinct from v_order.amount_total then
      -- A promotion code lowers the total Stripe charges; when the checkout crashed before
      -- recording the session, the order still holds the undiscounted total.
      if v_adopted and v_order.promotion_code is not null and v_currency = v_order.currency
         and (p_session ->> 'amount_subtotal')::bigint = v_order.amount_subtotal
         and v_amount between 0 and v_order.amount_subtotal then
        update public.orders o set amount_total = v_amount where o.id = v_order.id;
      else
        perform public.flag_order_for_review(v_order.id, format(
          'session %s: Stripe says %s %s, the order is %s %s', v_session_id,
          coalesce(v_amount::text, 'null'), coalesce(v_currency, 'null'),
          v_order.amount_total, v_order.currency), p_event_id);
        return row('processed', v_order.id, 'flagged: amount or currency mismatch')
          ::public.stripe_event_effect;
      end if;
    end if;
  end if;

  if v_order.status = v_target then
    return row('processed', v_order.id, 'no change: already ' || v_target)::public.stripe_event_effect;
  end if;

  if not public.order_transition_allowed(v_order.status, v_target) then
    -- Money arrived for an order we already closed (and whose stock went back).
    if v_target = 'paid' and v_order.status in ('expired', 'payment_failed', 'failed') then
      perform public.flag_order_for_review(v_order.id, format(
        'payment through session %s for a %s order', v_session_id, v_order.status), p_event_id);
      return row('processed', v_order.id, 'flagged: payment for a ' || v_order.status || ' order')
        ::public.stripe_event_effect;
    end if;
    -- Forward only: a late event never moves an order back.
    return row('processed', v_order.id, format('no change: order is %s, %s would go back',
      v_order.status, v_target))::public.stripe_event_effect;
  end if;

  return row('processed', v_order.id,
    public.move_order(v_order.id, v_target, p_event_id, v_payment_intent))::public.stripe_event_effect;
end;
$$;

select private.restrict_to_service_role(
  'public.session_created_under_order_key(uuid, jsonb)'
);
