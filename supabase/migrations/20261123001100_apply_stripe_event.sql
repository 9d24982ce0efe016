-- Applying one Stripe event (SPEC §5) is one call of public.apply_stripe_event: the
-- event row (unique stripe_event_id), its effect on the order, stock and outbox, and
-- its final status commit together or not at all. The helpers below run inside that
-- call with the order row locked, so concurrent events of one order serialize.

-- What an event did to its order; the status is the event row's final status.
create type public.stripe_event_effect as (
  status text, -- processed | ignored | deferred
  order_id uuid,
  detail text
);

-- The answer of apply_stripe_event, one row.
create type public.stripe_event_outcome as (
  outcome text, -- processed | duplicate | ignored | in_flight | failed
  event_status text,
  order_id uuid,
  order_status text,
  attempts integer,
  detail text
);

-- Flags an order for a human (needs_review) and queues an alert; the order's status is
-- left alone, so money that does not match the order never marks it paid.
create function public.flag_order_for_review(p_order_id uuid, p_reason text, p_event_id text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.orders o
  set needs_review = true,
      review_reason = left(coalesce(o.review_reason || '; ', '') || p_reason, 2000),
      updated_at = clock_timestamp()
  where o.id = p_order_id;
  perform public.enqueue_outbox('order.needs_review', 'order.needs_review:' || p_order_id || ':' || p_event_id,
    p_order_id, p_event_id, jsonb_build_object('order_id', p_order_id, 'reason', p_reason));
end;
$$;

-- One allowed transition of a locked order, with what comes with it: stock back
-- (exactly once), outbox messages, and, when the order becomes paid, the refunds that
-- arrived before the payment. Returns a description such as 'pending -> paid'.
create function public.move_order(
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

-- A charge.refunded for a paid (or already refunded) order. Only a full refund moves
-- the order; a partial one is queued for accounting and changes nothing.
create function public.refund_paid_order(p_order_id uuid, p_charge jsonb, p_event_id text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_status text;
  v_amount bigint := (p_charge ->> 'amount')::bigint;
  v_refunded bigint := coalesce((p_charge ->> 'amount_refunded')::bigint, 0);
begin
  select o.status into v_status from public.orders o where o.id = p_order_id for update;
  if not (coalesce((p_charge ->> 'refunded')::boolean, false) or (v_amount > 0 and v_refunded >= v_amount)) then
    perform public.enqueue_outbox('order.partially_refunded', 'order.partially_refunded:' || p_event_id,
      p_order_id, p_event_id, jsonb_build_object('order_id', p_order_id, 'charge', p_charge ->> 'id',
        'amount', v_amount, 'amount_refunded', v_refunded, 'currency', p_charge ->> 'currency'));
    return format('partial refund (%s of %s): no change', v_refunded, v_amount);
  end if;
  if v_status = 'refunded' then
    return 'no change: already refunded';
  end if;
  return public.move_order(p_order_id, 'refunded', p_event_id);
end;
$$;

create function public.apply_checkout_session_event(p_event_id text, p_type text, p_session jsonb)
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
  -- recorded it: the event is how we learn the session id.
  if v_order.checkout_session_id is null and v_session_id is not null then
    update public.orders o set checkout_session_id = v_session_id, updated_at = clock_timestamp()
    where o.id = v_order.id;
    v_order.checkout_session_id := v_session_id;
    v_adopted := true;
  end if;

  if v_order.checkout_session_id is distinct from v_session_id then
    -- Another session of this order (a re-keyed checkout attempt). Its expiry or
    -- failure says nothing about the session the customer is using ...
    if v_target <> 'paid' then
      return row('ignored', v_order.id, format('session %s is not the order''s session %s',
        v_session_id, v_order.checkout_session_id))::public.stripe_event_effect;
    end if;
    -- ... but its payment is real money: a second one must reach a human.
    if v_order.status in ('paid', 'refunded') and v_payment_intent is distinct from v_order.payment_intent_id then
      perform public.flag_order_for_review(v_order.id, format(
        'second payment through session %s (payment_intent %s) for a %s order',
        v_session_id, coalesce(v_payment_intent, 'none'), v_order.status), p_event_id);
      return row('processed', v_order.id, 'flagged: second payment')::public.stripe_event_effect;
    end if;
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

create function public.apply_charge_refunded(p_event_id text, p_charge jsonb)
returns public.stripe_event_effect
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ref text := nullif(p_charge -> 'metadata' ->> 'order_id', '');
  v_payment_intent text := coalesce(p_charge -> 'payment_intent' ->> 'id',
    nullif(p_charge ->> 'payment_intent', ''));
  v_order public.orders;
begin
  if v_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_order from public.orders o where o.id = v_ref::uuid for update;
  end if;
  if v_order.id is null and v_payment_intent is not null then
    select * into v_order from public.orders o where o.payment_intent_id = v_payment_intent
    order by o.created_at limit 1 for update;
  end if;
  if v_order.id is null then
    return row('ignored', null, format('no order for charge %s (payment_intent %s)',
      p_charge ->> 'id', coalesce(v_payment_intent, 'none')))::public.stripe_event_effect;
  end if;

  -- A refund needs a payment, so one that arrives first is a delivery-order artefact
  -- and Stripe will not send it again: keep it, and apply it when the payment lands.
  if v_order.status in ('pending', 'awaiting_payment') then
    return row('deferred', v_order.id, 'refund before the payment: waits for it')
      ::public.stripe_event_effect;
  end if;
  if v_order.status not in ('paid', 'refunded') then
    return row('processed', v_order.id, format('no change: order is %s, nothing was paid',
      v_order.status))::public.stripe_event_effect;
  end if;
  return row('processed', v_order.id, public.refund_paid_order(v_order.id, p_charge, p_event_id))
    ::public.stripe_event_effect;
end;
$$;

create function public.apply_stripe_event_effect(p_event_id text, p_type text, p_object jsonb)
returns public.stripe_event_effect
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_type in ('checkout.session.completed', 'checkout.session.async_payment_succeeded',
                'checkout.session.async_payment_failed', 'checkout.session.expired')
     and p_object ->> 'object' = 'checkout.session' then
    return public.apply_checkout_session_event(p_event_id, p_type, p_object);
  end if;
  if p_type = 'charge.refunded' and p_object ->> 'object' = 'charge' then
    return public.apply_charge_refunded(p_event_id, p_object);
  end if;
  return row('ignored', null, 'event type ' || p_type || ' is not handled')::public.stripe_event_effect;
end;
$$;

-- The webhook's one RPC. Outcomes:
--   processed  the effect is committed (row status processed or deferred);
--   ignored    stored, nothing to do (unknown type or order);
--   duplicate  this event was already processed or ignored: nothing changes;
--   in_flight  another transaction is applying this very event right now (answer 409;
--              never 2xx before the effect is committed);
--   failed     the effect raised: it was rolled back, the failure is recorded on the
--              row (attempts, last_error) and the next delivery tries again (answer 500).
create function public.apply_stripe_event(p_event jsonb)
returns public.stripe_event_outcome
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_event_id text := p_event ->> 'id';
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_row public.stripe_webhook_events;
  v_effect public.stripe_event_effect;
  v_state text;
  v_message text;
  v_now timestamptz := clock_timestamp();
begin
  if v_event_id is null or v_event_id !~ '^evt_[A-Za-z0-9_]+$' or coalesce(v_type, '') = ''
     or jsonb_typeof(v_object) is distinct from 'object' then
    raise exception 'not a Stripe event: id %, type %', coalesce(v_event_id, 'null'), coalesce(v_type, 'null')
      using errcode = '22023';
  end if;

  -- A second delivery of an event whose first is still running must not wait for it
  -- (Stripe would time out) nor answer 2xx before that effect commits: it gets 409 and
  -- Stripe retries. The lock ends with the transaction, after the commit is visible.
  if not pg_try_advisory_xact_lock(hashtext('stripe_webhook_events'), hashtext(v_event_id)) then
    return row('in_flight', null, null, null, null, null)::public.stripe_event_outcome;
  end if;

  select * into v_row from public.stripe_webhook_events e where e.stripe_event_id = v_event_id for update;
  if v_row.id is not null and v_row.status <> 'failed' then
    return row('duplicate', v_row.status, v_row.order_id,
      (select o.status from public.orders o where o.id = v_row.order_id), v_row.attempts, v_row.result)
      ::public.stripe_event_outcome;
  end if;
  if v_row.id is null then
    insert into public.stripe_webhook_events
      (stripe_event_id, type, livemode, api_version, event_created, payload, status)
    values (
      v_event_id, v_type, coalesce((p_event ->> 'livemode')::boolean, false), p_event ->> 'api_version',
      coalesce(to_timestamp((p_event ->> 'created')::double precision), v_now), p_event, 'processing')
    returning * into v_row;
  end if;

  begin
    v_effect := public.apply_stripe_event_effect(v_event_id, v_type, v_object);
  exception when others then
    -- The block's subtransaction has rolled the effect back; only the failure is kept.
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
    update public.stripe_webhook_events e
    set status = 'failed', attempts = e.attempts + 1, last_error = left(v_state || ': ' || v_message, 2000),
        updated_at = v_now
    where e.id = v_row.id
    returning * into v_row;
    return row('failed', 'failed', null, null, v_row.attempts, v_row.last_error)::public.stripe_event_outcome;
  end;

  update public.stripe_webhook_events e
  set status = v_effect.status, order_id = v_effect.order_id, result = v_effect.detail,
      attempts = e.attempts + 1, updated_at = v_now,
      processed_at = case when v_effect.status in ('processed', 'ignored') then v_now end
  where e.id = v_row.id
  returning * into v_row;

  return row(case when v_effect.status = 'ignored' then 'ignored' else 'processed' end,
    v_row.status, v_row.order_id,
    (select o.status from public.orders o where o.id = v_row.order_id),
    v_row.attempts, v_row.result)::public.stripe_event_outcome;
end;
$$;

select private.restrict_to_service_role(
  'public.flag_order_for_review(uuid, text, text)',
  'public.move_order(uuid, text, text, text)',
  'public.refund_paid_order(uuid, jsonb, text)',
  'public.apply_checkout_session_event(text, text, jsonb)',
  'public.apply_charge_refunded(text, jsonb)',
  'public.apply_stripe_event_effect(text, text, jsonb)',
  'public.apply_stripe_event(jsonb)'
);
