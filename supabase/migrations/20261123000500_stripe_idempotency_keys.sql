-- Stripe operations (SPEC §2): one row per (operation_type, operation_id), e.g.
-- ('checkout:create', <order id>). The Stripe idempotency key is minted once, when
-- the operation is first claimed, and reused by every retry so that Stripe itself
-- deduplicates a call whose answer we never saw. A new UUID is minted only after a
-- terminal failure, or when Stripe has saved a 500 under the old key (it would
-- replay that 500 forever).
create table public.stripe_idempotency_keys (
  id bigint generated always as identity primary key,
  operation_type text not null check (operation_type ~ '^[a-z_]+:[a-z_]+$'),
  operation_id text not null check (operation_id ~ '^[A-Za-z0-9_-]{1,128}$'),
  stripe_idempotency_key text not null unique check (length(stripe_idempotency_key) <= 255),
  request_fingerprint text not null,
  status text not null check (status in ('open', 'succeeded', 'failed')),
  lease_token uuid,
  locked_until timestamptz,
  attempts integer not null default 0 check (attempts >= 0),
  stripe_resource_id text,
  last_error jsonb,
  metadata jsonb not null default '{}'::jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null default now() + interval '24 hours',
  constraint stripe_idempotency_keys_operation_unique unique (operation_type, operation_id),
  constraint stripe_idempotency_keys_key_shape check (
    stripe_idempotency_key = operation_type || ':' || operation_id || ':' ||
      substring(stripe_idempotency_key from '[0-9a-f-]{36}$')
  ),
  constraint stripe_idempotency_keys_succeeded_has_resource check (
    (status = 'succeeded') = (stripe_resource_id is not null)
  )
);

create index stripe_idempotency_keys_expires_at_idx on public.stripe_idempotency_keys (expires_at);

alter table public.stripe_idempotency_keys enable row level security;
revoke all on public.stripe_idempotency_keys from anon, authenticated;

create type public.stripe_operation_claim as (
  outcome text, -- claimed | succeeded | in_progress | mismatch
  stripe_idempotency_key text,
  lease_token uuid,
  attempts integer,
  stripe_resource_id text,
  metadata jsonb,
  retry_after_seconds integer
);

create function public.mint_stripe_idempotency_key(p_operation_type text, p_operation_id text)
returns text
language sql
volatile
set search_path = ''
as $$ select p_operation_type || ':' || p_operation_id || ':' || gen_random_uuid()::text $$;

-- Claim a Stripe operation before calling Stripe. Returns the key to call Stripe
-- with and a lease (fencing token) that record/release/fail must present.
create function public.check_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_request_fingerprint text,
  p_lease_seconds integer default 60,
  p_metadata jsonb default '{}'::jsonb
)
returns public.stripe_operation_claim
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row public.stripe_idempotency_keys;
  v_token uuid := gen_random_uuid();
  v_now timestamptz := clock_timestamp();
  v_lease interval := make_interval(secs => p_lease_seconds);
begin
  insert into public.stripe_idempotency_keys as s
    (operation_type, operation_id, stripe_idempotency_key, request_fingerprint, status,
     lease_token, locked_until, attempts, metadata)
  values
    (p_operation_type, p_operation_id,
     public.mint_stripe_idempotency_key(p_operation_type, p_operation_id),
     p_request_fingerprint, 'open', v_token, v_now + v_lease, 1, coalesce(p_metadata, '{}'::jsonb))
  on conflict (operation_type, operation_id) do nothing
  returning * into v_row;

  if v_row.id is not null then
    return row('claimed', v_row.stripe_idempotency_key, v_token, 1, null, v_row.metadata, null)
      ::public.stripe_operation_claim;
  end if;

  select * into v_row from public.stripe_idempotency_keys s
  where s.operation_type = p_operation_type and s.operation_id = p_operation_id
  for update;

  if v_row.request_fingerprint <> p_request_fingerprint then
    return row('mismatch', null, null, v_row.attempts, null, null, null)::public.stripe_operation_claim;
  end if;

  if v_row.status = 'succeeded' then
    return row('succeeded', v_row.stripe_idempotency_key, null, v_row.attempts,
               v_row.stripe_resource_id, v_row.metadata, null)::public.stripe_operation_claim;
  end if;

  if v_row.status = 'open' and v_row.locked_until > v_now then
    return row('in_progress', v_row.stripe_idempotency_key, null, v_row.attempts, null, null,
               public.lease_retry_after(v_row.locked_until))
      ::public.stripe_operation_claim;
  end if;

  -- Open with no live lease: resume with the SAME key. Failed terminally: a new key.
  update public.stripe_idempotency_keys s
  set stripe_idempotency_key = case when s.status = 'failed'
        then public.mint_stripe_idempotency_key(s.operation_type, s.operation_id)
        else s.stripe_idempotency_key end,
      status = 'open', lease_token = v_token, locked_until = v_now + v_lease,
      attempts = s.attempts + 1, updated_at = v_now, expires_at = v_now + interval '24 hours'
  where s.id = v_row.id
  returning * into v_row;

  return row('claimed', v_row.stripe_idempotency_key, v_token, v_row.attempts, null,
             v_row.metadata, null)::public.stripe_operation_claim;
end;
$$;

-- Record the Stripe resource the call produced. Accepted from the lease holder, and
-- also when the same resource is already recorded (a late duplicate is harmless).
create function public.record_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_lease_token uuid,
  p_stripe_resource_id text,
  p_metadata jsonb default '{}'::jsonb
)
returns boolean
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
  return found;
end;
$$;

-- A retryable outcome (network error, timeout, 5xx, 409, 429): keep the operation
-- open and end the lease. p_rekey mints a new key when Stripe saved a 500 under the
-- old one.
create function public.release_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_lease_token uuid,
  p_error jsonb,
  p_rekey boolean default false
)
returns boolean
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
  return found;
end;
$$;

-- A terminal failure (Stripe 4xx other than 409/429).
create function public.fail_stripe_idempotency(
  p_operation_type text,
  p_operation_id text,
  p_lease_token uuid,
  p_error jsonb
)
returns boolean
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
  return found;
end;
$$;

select private.restrict_to_service_role(
  'public.mint_stripe_idempotency_key(text, text)',
  'public.check_stripe_idempotency(text, text, text, integer, jsonb)',
  'public.record_stripe_idempotency(text, text, uuid, text, jsonb)',
  'public.release_stripe_idempotency(text, text, uuid, jsonb, boolean)',
  'public.fail_stripe_idempotency(text, text, uuid, jsonb)'
);
