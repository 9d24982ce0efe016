-- A fresh checkout in two round trips (README, "How a request runs"): the claim of the
-- client key and begin_checkout in one transaction, then Stripe, then record_checkout.
--
-- The claim answers first and exactly as claim_idempotency_key does: replay, in_progress
-- and mismatch end here (a replay stays one round trip, and nothing is begun). On new or
-- takeover the key's lease is taken and begin_checkout runs under it at once, with the
-- same fencing token, the open-checkout limits, the order row lock and the Stripe claim as
-- when it is called alone. The result carries both: `claim` (with the lease token) and
-- `begun` (begin_checkout's outcome), or `begun` null when begin must wait.
--
-- begin waits for a signed-in user (p_user_id) who has no Stripe Customer yet: the
-- Customer is created under the request lease before begin, at Stripe, outside any
-- transaction, so it cannot ride on this one. The caller then creates it and calls
-- begin_checkout itself (one more round trip, only for a user's first checkout). A user
-- whose Customer is stored begins here with it, as a guest does.
create type public.checkout_claim_begin as (
  claim public.idempotency_claim,
  begun public.checkout_begin
);

create function public.claim_and_begin_checkout(
  p_scope text,
  p_idempotency_key text,
  p_request_fingerprint text,
  p_items jsonb,
  p_success_url text,
  p_cancel_url text,
  p_email text default null,
  p_user_id uuid default null,
  p_promotion_code text default null,
  p_session_ttl_seconds integer default 1800,
  p_lease_seconds integer default 60,
  p_ttl_seconds integer default 86400,
  p_client_ip text default null,
  p_max_pending_per_email integer default 0,
  p_max_pending_per_ip integer default 0
)
returns public.checkout_claim_begin
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_claim public.idempotency_claim;
  v_customer text;
begin
  v_claim := public.claim_idempotency_key(p_scope, p_idempotency_key, p_request_fingerprint,
    p_lease_seconds, p_ttl_seconds);
  if v_claim.outcome not in ('new', 'takeover') then
    return row(v_claim, null)::public.checkout_claim_begin;
  end if;

  if p_user_id is not null then
    select c.stripe_customer_id into v_customer from public.stripe_customers c
    where c.user_id = p_user_id;
    if v_customer is null then
      return row(v_claim, null)::public.checkout_claim_begin;
    end if;
  end if;

  return row(v_claim, public.begin_checkout(
    p_scope, p_idempotency_key, v_claim.lease_token, p_request_fingerprint, p_items,
    p_success_url, p_cancel_url, p_email, p_user_id, v_customer, p_promotion_code,
    p_session_ttl_seconds, p_lease_seconds, p_client_ip, p_max_pending_per_email,
    p_max_pending_per_ip))::public.checkout_claim_begin;
end;
$$;

select private.restrict_to_service_role(
  'public.claim_and_begin_checkout(text, text, text, jsonb, text, text, text, uuid, text, integer, integer, integer, text, integer, integer)'
);
