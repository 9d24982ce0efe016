-- An operation re-keyed after Stripe replayed a saved 5xx remembers the keys it gave up.
--
-- Stripe saves a 500 for a request that had begun executing, so the resource may exist,
-- created under the old key, with the 500 as its only answer. The runner must use a new key
-- (the old one replays the 500 forever), but a call under it would make a second resource.
-- So a re-key marks the operation `rekeyed` and appends the old key to
-- `metadata.superseded_keys`; the next attempt first looks for a resource made under one of
-- them (refund-order: the payment intent's refunds; checkout: recent sessions whose
-- metadata.checkout_key is one of them; the user's Customer) and takes it instead of
-- creating another.

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
            || to_jsonb(s.stripe_idempotency_key))
        else s.metadata end,
      updated_at = clock_timestamp()
  where s.operation_type = p_operation_type and s.operation_id = p_operation_id
    and s.status = 'open' and s.lease_token = p_lease_token;
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

-- The order as the checkout functions read it, now with what its open checkout:create
-- operation gave up: `superseded_checkout_keys` and, to bound the search for a session made
-- under one of them, `checkout_started_at` (when the operation was first claimed).
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
    'checkout_started_at', extract(epoch from op.created_at)::bigint
  )
  from public.orders o
  left join public.stripe_idempotency_keys op
    on op.operation_type = 'checkout:create' and op.operation_id = o.id::text
      and op.status = 'open'
  where o.id = p_order_id;
$$;
