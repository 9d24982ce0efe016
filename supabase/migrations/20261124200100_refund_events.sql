-- Refund and dispute events (charge.refunded, refund.created/updated/failed,
-- charge.refund.updated, charge.dispute.created/closed), applied inside
-- apply_stripe_event with the order row locked. Every effect merges a fact into state
-- that only grows (a refund's status only climbs requires_action → pending →
-- succeeded → failed/canceled; succeeded_at, the charge's highest amount_refunded and
-- the dispute outcome are never taken back), and the order moves on what that state
-- shows. So any interleaving or duplication of the events ends where their ordered
-- delivery ends.

-- The order in which a refund's status can only climb.
create function public.refund_status_rank(p_status text)
returns integer
language sql
immutable
set search_path = ''
as $$
  select case p_status
    when 'requires_action' then 0 when 'pending' then 1 when 'succeeded' then 2
    when 'failed' then 3 when 'canceled' then 3 end
$$;

-- What the order counts as refunded: the refunds that ever succeeded, or more when a
-- charge reported more (its refunds have not been reported one by one).
create function public.order_refunded_amount(p_order_id uuid)
returns bigint
language sql
stable
set search_path = ''
as $$
  select greatest(
    coalesce((select sum(r.amount) from public.refunds r
              where r.order_id = p_order_id and r.succeeded_at is not null), 0),
    (select o.max_charge_amount_refunded from public.orders o where o.id = p_order_id))::bigint
$$;

-- What may still be refunded: the amount paid less every refund that is not failed or
-- canceled (pending ones included: they hold their amount until Stripe decides).
create function public.order_refundable_amount(p_order_id uuid)
returns bigint
language sql
stable
set search_path = ''
as $$
  select (o.amount_total - coalesce((select sum(r.amount) from public.refunds r
    where r.order_id = o.id and r.status in ('pending', 'requires_action', 'succeeded')), 0))::bigint
  from public.orders o where o.id = p_order_id
$$;

-- One order.partially_refunded per order, whenever a partial refund is seen: through
-- the transition paid → partially_refunded, or later, when the full refund was seen
-- first (delivery order must not decide which messages exist).
create function public.enqueue_partial_refund(p_order_id uuid, p_source text)
returns void
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
begin
  select * into v_order from public.orders o where o.id = p_order_id;
  perform public.enqueue_outbox('order.partially_refunded', 'order.partially_refunded:' || p_order_id,
    p_order_id, p_source, jsonb_build_object(
      'order_id', p_order_id, 'email', v_order.email, 'user_id', v_order.user_id,
      'amount_total', v_order.amount_total, 'currency', v_order.currency,
      'checkout_session_id', v_order.checkout_session_id,
      'payment_intent_id', v_order.payment_intent_id,
      'amount_refunded', public.order_refunded_amount(p_order_id)));
end;
$$;

-- One allowed transition of a locked order, with what comes with it: stock back
-- (exactly once), outbox messages, and, when the order becomes paid, the refund and
-- dispute events that arrived before the payment. Returns a description such as
-- 'pending -> paid'. (Replaces the definition of 20261123001100_apply_stripe_event.sql:
-- adds partially_refunded and applies every kind of deferred event.)
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
  v_payment_intent text;
  v_now timestamptz := clock_timestamp();
begin
  select * into v_order from public.orders o where o.id = p_order_id for update;
  -- Learning the payment intent: an event that names only it waits for this to commit
  -- (see apply_payment_event), so it is either deferred before the loop below runs, or
  -- finds the order afterwards.
  if p_payment_intent is distinct from v_order.payment_intent_id and p_payment_intent is not null then
    perform pg_advisory_xact_lock(hashtext('payment_intent'), hashtext(p_payment_intent));
  end if;
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
  v_payment_intent := coalesce(p_payment_intent, v_order.payment_intent_id);

  if v_releases then
    perform public.release_order_stock(p_order_id);
  end if;

  if p_to = 'partially_refunded' then
    perform public.enqueue_partial_refund(p_order_id, p_event_id);
  elsif p_to in ('paid', 'payment_failed', 'refunded', 'expired') then
    -- One message per order and outcome: fulfilment and emails happen once.
    perform public.enqueue_outbox('order.' || p_to, 'order.' || p_to || ':' || p_order_id,
      p_order_id, p_event_id, jsonb_build_object(
        'order_id', p_order_id, 'email', v_order.email, 'user_id', v_order.user_id,
        'amount_total', v_order.amount_total, 'currency', v_order.currency,
        'checkout_session_id', v_order.checkout_session_id,
        'payment_intent_id', v_payment_intent)
        || case when p_to = 'refunded'
          then jsonb_build_object('amount_refunded', public.order_refunded_amount(p_order_id))
          else '{}'::jsonb end);
  end if;

  if p_to = 'paid' then
    -- Those of this order, and those that named only its payment intent (a Dashboard
    -- refund, a dispute) and so could not be matched before the payment told us it.
    for v_deferred in
      select * from public.stripe_webhook_events e
      where e.status = 'deferred'
        and (e.order_id = p_order_id
          or (e.order_id is null and v_payment_intent is not null
              and public.payment_intent_of(e.payload -> 'data' -> 'object') = v_payment_intent))
      order by e.event_created, e.id
      for update
    loop
      update public.stripe_webhook_events e
      set status = 'processed', processed_at = v_now, updated_at = v_now, order_id = p_order_id,
          result = 'applied after the payment (' || p_event_id || '): ' ||
            public.apply_payment_event_to_order(p_order_id, v_deferred.stripe_event_id,
              v_deferred.type, v_deferred.payload -> 'data' -> 'object')
      where e.id = v_deferred.id;
      v_detail := v_detail || ', then deferred ' || v_deferred.stripe_event_id;
    end loop;
  end if;
  return v_detail;
end;
$$;

-- A charge, refund or dispute names its payment intent as an id, or as an object when
-- the payload was expanded.
create function public.payment_intent_of(p_object jsonb)
returns text
language sql
immutable
set search_path = ''
as $$
  select coalesce(p_object -> 'payment_intent' ->> 'id', nullif(p_object ->> 'payment_intent', ''))
$$;

-- Moves a paid order to partially_refunded or refunded when what it counts as refunded
-- says so; never back. Returns what happened.
create function public.settle_order_refunds(p_order_id uuid, p_source text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
  v_refunded bigint;
  v_target text;
begin
  select * into v_order from public.orders o where o.id = p_order_id for update;
  if v_order.status not in ('paid', 'partially_refunded') then
    return 'order stays ' || v_order.status;
  end if;
  v_refunded := public.order_refunded_amount(p_order_id);
  v_target := case
    when v_refunded <= 0 then v_order.status
    when v_refunded >= v_order.amount_total then 'refunded'
    else 'partially_refunded' end;
  if v_target = v_order.status then
    return format('order stays %s (%s of %s refunded)', v_order.status, v_refunded,
      v_order.amount_total);
  end if;
  return public.move_order(p_order_id, v_target, p_source);
end;
$$;

-- Merges one refund object (from an event, or from Stripe's answer to refund-order)
-- into its row, found by Stripe refund id, else by the refund-order request named in
-- its metadata, else created (a refund made in the Dashboard). The status only
-- climbs; a refund that reaches failed queues refund.failed once, and its amount is
-- refundable again. Returns what happened.
create function public.reconcile_refund(p_order_id uuid, p_refund jsonb, p_source text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_stripe_id text := p_refund ->> 'id';
  v_status text := p_refund ->> 'status';
  v_amount bigint := (p_refund ->> 'amount')::bigint;
  v_request text := p_refund -> 'metadata' ->> 'refund_request_id';
  v_order public.orders;
  v_row public.refunds;
  v_before text;
  v_now timestamptz := clock_timestamp();
begin
  select * into v_order from public.orders o where o.id = p_order_id for update;
  if v_stripe_id is null or public.refund_status_rank(v_status) is null
     or v_amount is null or v_amount <= 0 then
    return format('refund %s ignored: status %s, amount %s', coalesce(v_stripe_id, '(no id)'),
      coalesce(v_status, 'null'), coalesce(v_amount::text, 'null'));
  end if;

  select * into v_row from public.refunds r where r.stripe_refund_id = v_stripe_id for update;
  if v_row.id is null
     and v_request ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_row from public.refunds r
    where r.id = v_request::uuid and r.order_id = p_order_id and r.stripe_refund_id is null
    for update;
  end if;

  if v_row.id is null then
    v_before := null;
    insert into public.refunds (order_id, stripe_refund_id, amount, currency, status, reason,
      failure_reason, succeeded_at, failed_at)
    values (p_order_id, v_stripe_id, v_amount,
      coalesce(lower(p_refund ->> 'currency'), v_order.currency), v_status,
      left(p_refund ->> 'reason', 100), left(p_refund ->> 'failure_reason', 2000),
      case when v_status = 'succeeded' then v_now end,
      case when v_status = 'failed' then v_now end)
    returning * into v_row;
  else
    v_before := v_row.status;
    v_status := case when public.refund_status_rank(v_status) > public.refund_status_rank(v_row.status)
      then v_status else v_row.status end;
    update public.refunds r
    set stripe_refund_id = v_stripe_id, amount = v_amount, status = v_status,
        failure_reason = coalesce(left(p_refund ->> 'failure_reason', 2000), r.failure_reason),
        -- Any report of success counts, even one older than a failure already seen.
        succeeded_at = case when p_refund ->> 'status' = 'succeeded'
          then coalesce(r.succeeded_at, v_now) else r.succeeded_at end,
        failed_at = case when v_status = 'failed' then coalesce(r.failed_at, v_now) else r.failed_at end,
        updated_at = v_now
    where r.id = v_row.id
    returning * into v_row;
  end if;

  if v_row.status = 'failed' then
    perform public.enqueue_outbox('refund.failed', 'refund.failed:' || v_stripe_id, p_order_id,
      p_source, jsonb_build_object('order_id', p_order_id, 'refund_id', v_stripe_id,
        'amount', v_row.amount, 'currency', v_row.currency,
        'failure_reason', v_row.failure_reason, 'refund_request_id',
        case when v_row.created_by_key is not null then v_row.id end));
  end if;
  if v_row.succeeded_at is not null and v_row.amount < v_order.amount_total
     and v_order.status in ('paid', 'partially_refunded', 'refunded') then
    perform public.enqueue_partial_refund(p_order_id, p_source);
  end if;

  return format('refund %s %s', v_stripe_id, case
    when v_before is null then 'recorded as ' || v_row.status
    when v_before = v_row.status then 'stays ' || v_row.status
    else v_before || ' -> ' || v_row.status end);
end;
$$;

-- A charge.refunded (the charge's refund list, when the payload carries one, and its
-- running total) for a paid, partially refunded or refunded order.
create or replace function public.refund_paid_order(p_order_id uuid, p_charge jsonb, p_event_id text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
  v_reported bigint := coalesce((p_charge ->> 'amount_refunded')::bigint, 0);
  v_refund jsonb;
  v_details text[] := '{}';
begin
  select * into v_order from public.orders o where o.id = p_order_id for update;
  if coalesce((p_charge ->> 'refunded')::boolean, false) then
    v_reported := greatest(v_reported, v_order.amount_total);
  end if;
  if jsonb_typeof(p_charge -> 'refunds' -> 'data') = 'array' then
    for v_refund in select x from jsonb_array_elements(p_charge -> 'refunds' -> 'data') x loop
      v_details := v_details || public.reconcile_refund(p_order_id, v_refund, p_event_id);
    end loop;
  end if;
  if v_reported > v_order.max_charge_amount_refunded then
    update public.orders o set max_charge_amount_refunded = v_reported, updated_at = clock_timestamp()
    where o.id = p_order_id;
  end if;
  if v_reported > 0 and v_reported < v_order.amount_total
     and v_order.status in ('paid', 'partially_refunded', 'refunded') then
    perform public.enqueue_partial_refund(p_order_id, p_event_id);
  end if;
  v_details := v_details || format('charge reports %s of %s refunded', v_reported,
    coalesce(p_charge ->> 'amount', '?'));
  return array_to_string(v_details || public.settle_order_refunds(p_order_id, p_event_id), '; ');
end;
$$;

-- charge.dispute.created / charge.dispute.closed: the dispute is recorded on the order
-- (a flag beside its status), order.disputed is queued, and the outcome once closed
-- (order.dispute_won / order.dispute_lost). Whichever arrives first, both messages exist.
create function public.record_dispute(p_order_id uuid, p_dispute jsonb, p_event_id text)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_id text := p_dispute ->> 'id';
  v_status text := left(p_dispute ->> 'status', 100);
  -- warning_closed: an inquiry that closed without becoming a chargeback.
  v_outcome text := case p_dispute ->> 'status'
    when 'won' then 'won' when 'warning_closed' then 'won' when 'lost' then 'lost' end;
  v_order public.orders;
  v_now timestamptz := clock_timestamp();
begin
  if v_id is null or v_id !~ '^[A-Za-z0-9_]{1,255}$' then
    return 'dispute without an id ignored';
  end if;
  select * into v_order from public.orders o where o.id = p_order_id for update;
  if v_order.dispute_id is not null and v_order.dispute_id <> v_id then
    perform public.flag_order_for_review(p_order_id, format('dispute %s while dispute %s is recorded',
      v_id, v_order.dispute_id), p_event_id);
    return 'flagged: a second dispute';
  end if;

  update public.orders o
  set dispute_id = v_id,
      dispute_reason = coalesce(o.dispute_reason, left(p_dispute ->> 'reason', 100)),
      dispute_amount = coalesce(o.dispute_amount, (p_dispute ->> 'amount')::bigint),
      dispute_status = case when v_outcome is not null or o.dispute_outcome is null
        then v_status else o.dispute_status end,
      dispute_outcome = coalesce(o.dispute_outcome, v_outcome),
      disputed_at = coalesce(o.disputed_at, v_now),
      dispute_closed_at = case when coalesce(o.dispute_outcome, v_outcome) is null then null
        else coalesce(o.dispute_closed_at, v_now) end,
      updated_at = v_now
  where o.id = p_order_id
  returning * into v_order;

  perform public.enqueue_outbox('order.disputed', 'order.disputed:' || v_id, p_order_id, p_event_id,
    jsonb_build_object('order_id', p_order_id, 'dispute_id', v_id,
      'reason', v_order.dispute_reason, 'amount', v_order.dispute_amount,
      'currency', v_order.currency, 'order_status', v_order.status));
  if v_order.dispute_outcome is not null then
    perform public.enqueue_outbox('order.dispute_' || v_order.dispute_outcome,
      'order.dispute_' || v_order.dispute_outcome || ':' || v_id, p_order_id, p_event_id,
      jsonb_build_object('order_id', p_order_id, 'dispute_id', v_id,
        'status', v_order.dispute_status, 'amount', v_order.dispute_amount,
        'currency', v_order.currency));
  end if;
  return format('dispute %s %s', v_id, coalesce(v_order.dispute_outcome, v_order.dispute_status));
end;
$$;

-- The effect of one charge, refund or dispute event on its (paid) order.
create function public.apply_payment_event_to_order(
  p_order_id uuid,
  p_event_id text,
  p_type text,
  p_object jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  if p_type = 'charge.refunded' then
    return public.refund_paid_order(p_order_id, p_object, p_event_id);
  end if;
  if p_type in ('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated') then
    return public.reconcile_refund(p_order_id, p_object, p_event_id) || '; ' ||
      public.settle_order_refunds(p_order_id, p_event_id);
  end if;
  if p_type in ('charge.dispute.created', 'charge.dispute.closed') then
    return public.record_dispute(p_order_id, p_object, p_event_id);
  end if;
  raise exception 'event type % is not a payment event', p_type using errcode = '22023';
end;
$$;

-- Finds the order of a charge, refund or dispute: its order_id metadata (charges
-- inherit the payment intent's; refund-order puts it on its refunds), else its payment
-- intent. One that names only an unknown payment intent waits (deferred) for the
-- payment that will tell us whose it is; one that arrives before its order's payment
-- waits too (a delivery-order artefact: Stripe will not send it again).
create function public.apply_payment_event(p_event_id text, p_type text, p_object jsonb)
returns public.stripe_event_effect
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_ref text := nullif(p_object -> 'metadata' ->> 'order_id', '');
  v_payment_intent text := public.payment_intent_of(p_object);
  v_order public.orders;
begin
  if v_ref ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' then
    select * into v_order from public.orders o where o.id = v_ref::uuid for update;
  end if;
  if v_order.id is null and v_payment_intent is not null then
    -- Serialized with the payment that records this payment intent (move_order takes
    -- the same lock): otherwise this event could be deferred unmatched just after that
    -- payment looked for the events waiting for it, and wait forever.
    perform pg_advisory_xact_lock(hashtext('payment_intent'), hashtext(v_payment_intent));
    select * into v_order from public.orders o where o.payment_intent_id = v_payment_intent
    order by o.created_at limit 1 for update;
  end if;
  if v_order.id is null then
    if v_ref is null and v_payment_intent is not null then
      return row('deferred', null, format('no order with payment_intent %s yet: waits for its payment',
        v_payment_intent))::public.stripe_event_effect;
    end if;
    return row('ignored', null, format('no order for %s %s (payment_intent %s)',
      coalesce(p_object ->> 'object', 'object'), coalesce(p_object ->> 'id', '(no id)'),
      coalesce(v_payment_intent, 'none')))::public.stripe_event_effect;
  end if;

  if v_order.status in ('pending', 'awaiting_payment') then
    return row('deferred', v_order.id, p_type || ' before the payment: waits for it')
      ::public.stripe_event_effect;
  end if;
  return row('processed', v_order.id,
    public.apply_payment_event_to_order(v_order.id, p_event_id, p_type, p_object))
    ::public.stripe_event_effect;
end;
$$;

-- Kept for callers of the previous migration; the same as apply_payment_event.
create or replace function public.apply_charge_refunded(p_event_id text, p_charge jsonb)
returns public.stripe_event_effect
language sql
volatile
set search_path = ''
as $$ select public.apply_payment_event(p_event_id, 'charge.refunded', p_charge) $$;

-- (Replaces the definition of 20261123001100_apply_stripe_event.sql: every branch it
-- had, plus refunds and disputes.)
create or replace function public.apply_stripe_event_effect(p_event_id text, p_type text, p_object jsonb)
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
  if (p_type = 'charge.refunded' and p_object ->> 'object' = 'charge')
     or (p_type in ('refund.created', 'refund.updated', 'refund.failed', 'charge.refund.updated')
         and p_object ->> 'object' = 'refund')
     or (p_type in ('charge.dispute.created', 'charge.dispute.closed')
         and p_object ->> 'object' = 'dispute') then
    return public.apply_payment_event(p_event_id, p_type, p_object);
  end if;
  return row('ignored', null, 'event type ' || p_type || ' is not handled')::public.stripe_event_effect;
end;
$$;

select private.restrict_to_service_role(
  'public.refund_status_rank(text)',
  'public.order_refunded_amount(uuid)',
  'public.order_refundable_amount(uuid)',
  'public.enqueue_partial_refund(uuid, text)',
  'public.payment_intent_of(jsonb)',
  'public.settle_order_refunds(uuid, text)',
  'public.reconcile_refund(uuid, jsonb, text)',
  'public.record_dispute(uuid, jsonb, text)',
  'public.apply_payment_event_to_order(uuid, text, text, jsonb)',
  'public.apply_payment_event(text, text, jsonb)'
);
