-- The refund-order request, one function per step like the checkout:
--   begin_refund  → the order locked, the amount checked against what is still
--                   refundable and reserved by a pending refunds row, the Stripe
--                   operation ('refund:create', '<order id>_<refund request id>') claimed
--   (Stripe refunds.create with the stored key, outside any transaction)
--   record_refund → Stripe's refund on the row and the order, the response stored
--   release_refund / fail_refund → the retryable and the terminal outcomes
-- Fenced by both leases: a caller whose lease was taken over changes nothing.

-- The answer of refund-order (201, and every replay of it).
create function public.refund_response(p_refund_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'refund_id', r.stripe_refund_id,
    'order_id', r.order_id,
    'amount', r.amount,
    'currency', r.currency,
    'status', r.status,
    'order_status', o.status)
  from public.refunds r join public.orders o on o.id = r.order_id
  where r.id = p_refund_id
$$;

create type public.refund_begin as (
  -- ready | recorded | failed | in_progress | lease_lost | mismatch
  -- | order_not_found | order_not_refundable | refund_exceeds_payment
  outcome text,
  -- ready: what to send Stripe (id, order_id, payment_intent_id, amount, currency, reason)
  -- recorded: the response (refund_response)
  refund jsonb,
  stripe_idempotency_key text,
  stripe_lease_token uuid,
  details jsonb,
  retry_after_seconds integer
);

-- The refund's Stripe operation id: '<order id>_<refund request id>', so the Stripe key
-- reads 'refund:create:<order id>_<refund request id>:<uuid>'.
create function public.refund_operation_id(p_refund_id uuid)
returns text
language sql
stable
set search_path = ''
as $$ select r.stripe_operation_id from public.refunds r where r.id = p_refund_id $$;

-- Step 2 of the request. The refunds row is created once per (scope, key): a later
-- call for the same key (a retry after a lost answer, a takeover after a crash) finds
-- it and resumes its Stripe operation under the stored key.
create function public.begin_refund(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_request_fingerprint text,
  p_order_id uuid,
  p_amount bigint default null,
  p_reason text default null,
  p_lease_seconds integer default 60
)
returns public.refund_begin
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
  v_refund public.refunds;
  v_claim public.stripe_operation_claim;
  v_refundable bigint;
  v_amount bigint;
  v_id uuid;
begin
  if not public.extend_idempotency_lease(p_scope, p_idempotency_key, p_request_lease_token,
      p_lease_seconds) then
    return row('lease_lost', null, null, null, null, 1)::public.refund_begin;
  end if;

  select * into v_refund from public.refunds r
  where r.created_by_scope = p_scope and r.created_by_key = p_idempotency_key;

  -- The order first, always: the same lock order as the webhook, and it serializes the
  -- refunds of one order, so two racing requests cannot both reserve the last euro.
  select * into v_order from public.orders o
  where o.id = coalesce(v_refund.order_id, p_order_id) for update;

  if v_refund.id is not null then
    if v_refund.request_fingerprint <> p_request_fingerprint then
      return row('mismatch', null, null, null, null, null)::public.refund_begin;
    end if;
    -- Stripe's refund is known (recorded, or attached by its webhook): answer with it.
    if v_refund.stripe_refund_id is not null then
      return row('recorded', public.refund_response(v_refund.id), null, null, null, null)
        ::public.refund_begin;
    end if;
    if v_refund.status = 'failed' then
      return row('failed', null, null, null, v_refund.last_error, null)::public.refund_begin;
    end if;
  else
    if v_order.id is null then
      return row('order_not_found', null, null, null,
        jsonb_build_object('order_id', p_order_id), null)::public.refund_begin;
    end if;
    if v_order.status not in ('paid', 'partially_refunded', 'refunded')
       or v_order.payment_intent_id is null then
      return row('order_not_refundable', null, null, null,
        jsonb_build_object('order_id', v_order.id, 'order_status', v_order.status), null)
        ::public.refund_begin;
    end if;
    v_refundable := public.order_refundable_amount(v_order.id);
    v_amount := coalesce(p_amount, v_refundable);
    if v_amount <= 0 or v_amount > v_refundable then
      return row('refund_exceeds_payment', null, null, null, jsonb_build_object(
        'order_id', v_order.id, 'requested', v_amount, 'refundable', v_refundable,
        'amount_paid', v_order.amount_total, 'currency', v_order.currency), null)
        ::public.refund_begin;
    end if;
    v_id := gen_random_uuid();
    insert into public.refunds (id, order_id, amount, currency, status, reason, created_by_scope,
      created_by_key, request_fingerprint, stripe_operation_id)
    values (v_id, v_order.id, v_amount, v_order.currency, 'pending', p_reason, p_scope,
      p_idempotency_key, p_request_fingerprint, v_order.id || '_' || v_id)
    returning * into v_refund;
  end if;

  v_claim := public.check_stripe_idempotency('refund:create', v_refund.stripe_operation_id,
    v_refund.request_fingerprint, p_lease_seconds,
    jsonb_build_object('order_id', v_refund.order_id, 'refund_request_id', v_refund.id));
  if v_claim.outcome = 'in_progress' then
    return row('in_progress', null, null, null, null, v_claim.retry_after_seconds)
      ::public.refund_begin;
  end if;
  if v_claim.outcome <> 'claimed' then
    raise exception 'refund operation % is %, expected claimed', v_refund.stripe_operation_id,
      v_claim.outcome;
  end if;

  return row('ready', jsonb_build_object(
      'id', v_refund.id, 'order_id', v_refund.order_id,
      'payment_intent_id', v_order.payment_intent_id, 'amount', v_refund.amount,
      'currency', v_refund.currency, 'reason', v_refund.reason,
      -- Since the request's first Stripe call (its row outlives the operation row the
      -- cleanup deletes): past 20 h Stripe may have forgotten the key, and refund_flow.ts
      -- looks the refund up before calling refunds.create again.
      'age_seconds', floor(extract(epoch from clock_timestamp() - v_refund.created_at))::bigint),
    v_claim.stripe_idempotency_key, v_claim.lease_token, null, null)::public.refund_begin;
end;
$$;

create type public.refund_record as (
  outcome text, -- ok | lease_lost
  response jsonb -- ok: the answer, as stored
);

-- Step 4: Stripe's refund goes on the operation and the row (through the same
-- reconciliation as its webhooks), the order moves if the refund already succeeded,
-- and the response is stored for replay, all or nothing. 'lease_lost' changes nothing:
-- the caller no longer holds the operation's lease.
create function public.record_refund(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_refund_id uuid,
  p_stripe_lease_token uuid,
  p_stripe_refund jsonb,
  p_response_status integer default 201
)
returns public.refund_record
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_refund public.refunds;
  v_stripe_id text := p_stripe_refund ->> 'id';
  v_source text := 'refund-order:' || p_refund_id;
  v_response jsonb;
begin
  select * into v_refund from public.refunds r where r.id = p_refund_id;
  if v_refund.id is null then
    raise exception 'no refund request %', p_refund_id using errcode = '22023';
  end if;
  perform 1 from public.orders o where o.id = v_refund.order_id for update;

  if public.record_stripe_idempotency('refund:create', v_refund.stripe_operation_id,
      p_stripe_lease_token, v_stripe_id) <> 'ok' then
    return row('lease_lost', null)::public.refund_record;
  end if;

  if v_refund.stripe_refund_id is null then
    update public.refunds r set stripe_refund_id = v_stripe_id, updated_at = clock_timestamp()
    where r.id = p_refund_id;
  elsif v_refund.stripe_refund_id <> v_stripe_id then
    raise exception 'refund request % already has refund %, refusing %', p_refund_id,
      v_refund.stripe_refund_id, v_stripe_id;
  end if;
  perform public.reconcile_refund(v_refund.order_id, p_stripe_refund, v_source);
  perform public.settle_order_refunds(v_refund.order_id, v_source);

  v_response := public.refund_response(p_refund_id);
  -- The refund is recorded whoever holds the client key now; the answer is stored only
  -- by its holder (a later holder finds the refund recorded and stores it then).
  perform public.complete_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token,
    p_response_status, v_response);
  return row('ok', v_response)::public.refund_record;
end;
$$;

-- A retryable Stripe outcome: the operation stays open (same key unless p_rekey), both
-- leases end, nothing is stored, and the amount stays reserved: Stripe may have made
-- the refund, and the retry under the same key will learn it.
create function public.release_refund(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_refund_id uuid,
  p_stripe_lease_token uuid,
  p_error jsonb,
  p_rekey boolean default false
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_released text;
begin
  v_released := public.release_stripe_idempotency('refund:create',
    public.refund_operation_id(p_refund_id), p_stripe_lease_token, p_error, p_rekey);
  if v_released = 'ok' then
    update public.refunds r set last_error = p_error, updated_at = clock_timestamp()
    where r.id = p_refund_id;
  end if;
  perform public.release_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token);
  return v_released;
end;
$$;

-- A terminal Stripe rejection: the operation and the refunds row fail (its amount is
-- refundable again), and the error response is stored so every retry replays it.
create function public.fail_refund(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_refund_id uuid,
  p_stripe_lease_token uuid,
  p_error jsonb,
  p_response_status integer,
  p_response_body jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  if public.fail_stripe_idempotency('refund:create', public.refund_operation_id(p_refund_id),
      p_stripe_lease_token, p_error) <> 'ok' then
    return 'lease_lost';
  end if;
  update public.refunds r
  set status = 'failed', failed_at = clock_timestamp(), last_error = p_error,
      failure_reason = left('rejected by Stripe: ' || coalesce(p_error ->> 'code',
        p_error ->> 'message', 'unknown'), 2000),
      updated_at = clock_timestamp()
  where r.id = p_refund_id and r.stripe_refund_id is null;
  perform public.complete_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token,
    p_response_status, p_response_body);
  return 'ok';
end;
$$;

select private.restrict_to_service_role(
  'public.refund_response(uuid)',
  'public.refund_operation_id(uuid)',
  'public.begin_refund(text, text, uuid, text, uuid, bigint, text, integer)',
  'public.record_refund(text, text, uuid, uuid, uuid, jsonb, integer)',
  'public.release_refund(text, text, uuid, uuid, uuid, jsonb, boolean)',
  'public.fail_refund(text, text, uuid, uuid, uuid, jsonb, integer, jsonb)'
);
