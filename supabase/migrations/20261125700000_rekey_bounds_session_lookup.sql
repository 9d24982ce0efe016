-- A re-keyed checkout looks for the session Stripe made under one of its superseded keys
-- (20261125300000_rekeyed_operations.sql). That session was made before Stripe saved the
-- 500 we were then replayed, so before the re-key: the operation now records when it last
-- re-keyed (`metadata.superseded_at`, unix seconds) and the order snapshot hands it on as
-- `checkout_superseded_at`, bounding the look-up from above. Sessions made later (a busy
-- shop's, while the shopper was away) no longer push it out of the scan.

create or replace function public.release_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_lease_token uuid,
  p_error jsonb,
  p_rekey boolean default false
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  -- Every right-hand side reads the row as it was, so the superseded key is the old one.
  update public.stripe_idempotency_keys s
  set lease_token = null, locked_until = clock_timestamp(), last_error = p_error,
      stripe_idempotency_key = case when p_rekey
        then public.mint_stripe_idempotency_key(s.operation_type, s.operation_id)
        else s.stripe_idempotency_key end,
      metadata = case when p_rekey
        then s.metadata || jsonb_build_object('rekeyed', true, 'superseded_keys',
          coalesce(s.metadata -> 'superseded_keys', '[]'::jsonb)
            || to_jsonb(s.stripe_idempotency_key),
          'superseded_at', ceil(extract(epoch from clock_timestamp()))::bigint)
        else s.metadata end,
      updated_at = clock_timestamp()
  where s.operation_type = p_operation_type and s.operation_id = p_operation_id
    and s.status = 'open' and s.lease_token = p_lease_token;
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

create or replace function public.order_snapshot(p_order_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', o.id,
    'status', o.status,
    'email', o.email,
    'currency', o.currency,
    'amount_subtotal', o.amount_subtotal,
    'amount_total', o.amount_total,
    'success_url', o.success_url,
    'cancel_url', o.cancel_url,
    'stripe_customer_id', o.stripe_customer_id,
    'promotion_code', o.promotion_code,
    'checkout_session_id', o.checkout_session_id,
    'checkout_url', o.checkout_url,
    'checkout_expires_at', extract(epoch from o.checkout_expires_at)::bigint,
    'items', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'product_id', i.product_id, 'name', i.name, 'quantity', i.quantity,
        'unit_amount', i.unit_amount) order by i.product_id), '[]'::jsonb)
      from public.order_items i where i.order_id = o.id
    ),
    'superseded_checkout_keys', coalesce(op.metadata -> 'superseded_keys', '[]'::jsonb),
    'checkout_started_at', extract(epoch from op.created_at)::bigint,
    -- null for an operation re-keyed before superseded_at was recorded: no upper bound.
    'checkout_superseded_at', (op.metadata ->> 'superseded_at')::bigint
  )
  from public.orders o
  left join public.stripe_idempotency_keys op
    on op.operation_type = 'checkout:create' and op.operation_id = o.id::text
      and op.status = 'open'
  where o.id = p_order_id;
$$;
