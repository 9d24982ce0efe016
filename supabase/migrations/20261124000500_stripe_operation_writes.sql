-- The fenced writes of a Stripe operation (stripe_idempotency_keys) say why they changed
-- nothing: 'ok', or 'lease_lost' when the caller no longer holds the operation's lease.
-- These are the record / release / fail steps of the one Stripe-operation runner
-- (supabase/functions/_shared/checkout-utils.ts).
drop function public.record_stripe_idempotency(text, text, uuid, text, jsonb);
drop function public.release_stripe_idempotency(text, text, uuid, jsonb, boolean);
drop function public.fail_stripe_idempotency(text, text, uuid, jsonb);

-- Record the Stripe resource the call produced. Accepted from the lease holder, and
-- also when the same resource is already recorded (a late duplicate is harmless).
create function public.record_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_lease_token uuid,
  p_stripe_resource_id text,
  p_metadata jsonb default '{}'::jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.stripe_idempotency_keys s
  set status = 'succeeded', stripe_resource_id = p_stripe_resource_id, lease_token = null,
      locked_until = null, last_error = null, metadata = s.metadata || coalesce(p_metadata, '{}'::jsonb),
      updated_at = clock_timestamp()
  where s.operation_type = p_operation_type and s.operation_id = p_operation_id
    and ((s.status = 'open' and s.lease_token = p_lease_token)
      or (s.status = 'succeeded' and s.stripe_resource_id = p_stripe_resource_id));
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

-- A retryable outcome (network error, timeout, 5xx, 409, 429): keep the operation
-- open and end the lease. p_rekey mints a new key when Stripe saved a 500 under the
-- old one (it would replay that 500 forever).
create function public.release_stripe_idempotency(
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
  update public.stripe_idempotency_keys s
  set lease_token = null, locked_until = clock_timestamp(), last_error = p_error,
      stripe_idempotency_key = case when p_rekey
        then public.mint_stripe_idempotency_key(s.operation_type, s.operation_id)
        else s.stripe_idempotency_key end,
      updated_at = clock_timestamp()
  where s.operation_type = p_operation_type and s.operation_id = p_operation_id
    and s.status = 'open' and s.lease_token = p_lease_token;
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

-- A terminal failure (Stripe 4xx other than 409/429).
create function public.fail_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_lease_token uuid,
  p_error jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.stripe_idempotency_keys s
  set status = 'failed', lease_token = null, locked_until = null, last_error = p_error,
      updated_at = clock_timestamp()
  where s.operation_type = p_operation_type and s.operation_id = p_operation_id
    and s.status = 'open' and s.lease_token = p_lease_token;
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

select private.restrict_to_service_role(
  'public.record_stripe_idempotency(text, text, uuid, text, jsonb)',
  'public.release_stripe_idempotency(text, text, uuid, jsonb, boolean)',
  'public.fail_stripe_idempotency(text, text, uuid, jsonb)'
);
