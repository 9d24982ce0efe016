-- A customer:create operation re-keyed after Stripe replayed a saved 500 looks the user's
-- Customer up before creating one.
--
-- Stripe saves a 500 for a request that had begun executing, so the Customer may exist,
-- created under the old key with the 500 as its only answer. release_stripe_idempotency
-- marks such an operation `rekeyed` (20261125300000_rekeyed_operations.sql); begin_customer
-- now hands that on, and stripe_customer.ts then finds the Customer (by the e-mail it was
-- created with, strongly consistent; or by its metadata) instead of making a second one.
alter type public.customer_begin add attribute rekeyed boolean;

create or replace function public.begin_customer(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_user_id uuid,
  p_email text,
  p_lease_seconds integer default 60
)
returns public.customer_begin
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_customer text;
  v_claim public.stripe_operation_claim;
  v_age integer;
begin
  -- The checkout's own request lease: fenced, and renewed before a Stripe call or a wait.
  if not public.extend_idempotency_lease(p_scope, p_idempotency_key, p_request_lease_token,
      p_lease_seconds) then
    return row('lease_lost', null, null, null, null, 1, null, null)::public.customer_begin;
  end if;

  select c.stripe_customer_id into v_customer from public.stripe_customers c
  where c.user_id = p_user_id;
  if v_customer is not null then
    return row('existing', v_customer, null, null, null, null, null, null)
      ::public.customer_begin;
  end if;

  -- The parameters of the first claim are kept in metadata so that every retry
  -- sends Stripe identical parameters under the same key.
  v_claim := public.check_stripe_idempotency('customer:create', p_user_id::text,
    'customer:' || p_user_id::text, p_lease_seconds, jsonb_build_object('email', p_email));

  if v_claim.outcome = 'succeeded' then
    return row('existing', v_claim.stripe_resource_id, null, null, null, null, null, null)
      ::public.customer_begin;
  end if;
  if v_claim.outcome = 'in_progress' then
    return row('in_progress', null, null, null, null, v_claim.retry_after_seconds, null, null)
      ::public.customer_begin;
  end if;
  -- Since the operation was first claimed: its first call to Stripe came then.
  select extract(epoch from clock_timestamp() - s.created_at)::integer into v_age
  from public.stripe_idempotency_keys s
  where s.operation_type = 'customer:create' and s.operation_id = p_user_id::text;
  return row('claimed', null, v_claim.stripe_idempotency_key, v_claim.lease_token,
    v_claim.metadata ->> 'email', null, v_age,
    coalesce((v_claim.metadata ->> 'rekeyed')::boolean, false))::public.customer_begin;
end;
$$;

select private.restrict_to_service_role(
  'public.begin_customer(text, text, uuid, uuid, text, integer)'
);
