-- A user's Stripe Customer (stripe_customers), created at most once through the Stripe
-- operation customer:create:<user id>: begin_customer finds it or claims its creation,
-- record_customer stores what Stripe made. The functions moved here from the checkout
-- migration, where they did not belong; record_customer now says why it stored nothing.
drop function public.record_customer(uuid, uuid, text);

create type public.customer_record as (
  outcome text, -- ok | lease_lost
  stripe_customer_id text
);

-- One Customer per user even after Stripe forgets the idempotency key (it keeps keys at
-- least 24 h; README, "The key lifecycle"): begin_customer also says how old the claimed
-- customer:create operation is, so that a resumed operation older than 20 h looks the
-- user's Customer up at Stripe before it calls create under a key Stripe may no longer
-- know (supabase/functions/_shared/stripe_customer.ts).
alter type public.customer_begin add attribute operation_age_seconds integer;

-- Get the user's Stripe Customer, or claim the right to create it
-- (operation customer:create:<user id>), so concurrent first checkouts make one.
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
    return row('lease_lost', null, null, null, null, 1, null)::public.customer_begin;
  end if;

  select c.stripe_customer_id into v_customer from public.stripe_customers c
  where c.user_id = p_user_id;
  if v_customer is not null then
    return row('existing', v_customer, null, null, null, null, null)::public.customer_begin;
  end if;

  -- The parameters of the first claim are kept in metadata so that every retry
  -- sends Stripe identical parameters under the same key.
  v_claim := public.check_stripe_idempotency('customer:create', p_user_id::text,
    'customer:' || p_user_id::text, p_lease_seconds, jsonb_build_object('email', p_email));

  if v_claim.outcome = 'succeeded' then
    return row('existing', v_claim.stripe_resource_id, null, null, null, null, null)
      ::public.customer_begin;
  end if;
  if v_claim.outcome = 'in_progress' then
    return row('in_progress', null, null, null, null, v_claim.retry_after_seconds, null)
      ::public.customer_begin;
  end if;
  -- Since the operation was first claimed: its first call to Stripe came then.
  select extract(epoch from clock_timestamp() - s.created_at)::integer into v_age
  from public.stripe_idempotency_keys s
  where s.operation_type = 'customer:create' and s.operation_id = p_user_id::text;
  return row('claimed', null, v_claim.stripe_idempotency_key, v_claim.lease_token,
    v_claim.metadata ->> 'email', null, v_age)::public.customer_begin;
end;
$$;

-- Record: the Customer Stripe created becomes the user's. 'lease_lost' stores nothing:
-- whoever took the operation over records it.
create function public.record_customer(
  p_user_id uuid,
  p_stripe_lease_token uuid,
  p_stripe_customer_id text
)
returns public.customer_record
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_customer text;
begin
  if public.record_stripe_idempotency('customer:create', p_user_id::text,
      p_stripe_lease_token, p_stripe_customer_id) <> 'ok' then
    return row('lease_lost', null)::public.customer_record;
  end if;
  insert into public.stripe_customers (user_id, stripe_customer_id)
  values (p_user_id, p_stripe_customer_id)
  on conflict (user_id) do nothing;
  select c.stripe_customer_id into v_customer from public.stripe_customers c
  where c.user_id = p_user_id;
  return row('ok', v_customer)::public.customer_record;
end;
$$;

select private.restrict_to_service_role(
  'public.begin_customer(text, text, uuid, uuid, text, integer)',
  'public.record_customer(uuid, uuid, text)'
);
