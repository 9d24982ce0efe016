-- A refund whose Stripe key was re-keyed looks its refund up before creating one.
--
-- The runner mints a new key when Stripe replays a saved 5xx under the old one (that key
-- can never succeed). But Stripe saves a 500 for a request that had begun executing, so
-- the refund may exist: created under the old key, its answer the 500. A call under the
-- new key would make a second refund for the same request (when its webhooks have not
-- yet told us of the first). So a re-key marks the operation `rekeyed` (done by
-- release_stripe_idempotency, in 20261125300000_rekeyed_operations.sql), and
-- begin_refund hands that on in the plan: refund_flow.ts then lists the payment intent's
-- refunds and takes the one carrying this request's id, as it does for a key Stripe
-- may have forgotten.

create or replace function public.begin_refund(
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
      'age_seconds', floor(extract(epoch from clock_timestamp() - v_refund.created_at))::bigint,
      -- Re-keyed after Stripe saved a 5xx: the refund may exist under the old key.
      'rekeyed', coalesce((v_claim.metadata ->> 'rekeyed')::boolean, false)),
    v_claim.stripe_idempotency_key, v_claim.lease_token, null, null)::public.refund_begin;
end;
$$;

select private.restrict_to_service_role(
  'public.begin_refund(text, text, uuid, text, uuid, bigint, text, integer)'
);
