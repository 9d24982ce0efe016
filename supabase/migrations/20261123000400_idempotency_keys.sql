-- Request-level idempotency (SPEC §3): one row per (scope, client key).
-- A row is owned by whoever holds its current lease_token (a fencing token):
-- only that holder may complete or release it.
create table public.idempotency_keys (
  scope text not null,
  key text not null check (length(key) between 1 and 255),
  request_fingerprint text not null check (request_fingerprint ~ '^[0-9a-f]{64}$'),
  status text not null check (status in ('in_progress', 'released', 'completed')),
  lease_token uuid,
  locked_until timestamptz,
  -- Which responses are stored is the application's policy (SPEC §3: < 500, plus
  -- the terminal 502 stripe_rejected); the column only rules out nonsense.
  response_status integer check (response_status between 100 and 599),
  response_body jsonb,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  expires_at timestamptz not null,
  primary key (scope, key),
  constraint idempotency_keys_completed_has_response check (
    (status = 'completed') = (response_status is not null and response_body is not null)
  ),
  constraint idempotency_keys_lease_only_in_progress check (
    (status = 'in_progress') = (lease_token is not null and locked_until is not null)
  )
);

create index idempotency_keys_expires_at_idx on public.idempotency_keys (expires_at);

alter table public.idempotency_keys enable row level security;
revoke all on public.idempotency_keys from anon, authenticated;

-- The outcome of a claim, returned as one row.
create type public.idempotency_claim as (
  outcome text, -- new | takeover | replay | in_progress | mismatch
  lease_token uuid,
  response_status integer,
  response_body jsonb,
  retry_after_seconds integer
);

-- How long a caller refused by a live lease should wait before retrying. The lease's
-- remaining time is the worst case (a crashed holder); a live holder usually finishes
-- within a second or two, and a retry that comes early costs only another 409.
create function public.lease_retry_after(p_locked_until timestamptz)
returns integer
language sql
volatile
set search_path = ''
as $$
  select least(2, greatest(1, ceil(extract(epoch from p_locked_until - clock_timestamp()))::integer))
$$;

-- Claim (scope, key) in one round trip: insert, or inspect the row that is there.
create function public.claim_idempotency_key(
  p_scope text,
  p_key text,
  p_request_fingerprint text,
  p_lease_seconds integer default 60,
  p_ttl_seconds integer default 86400
)
returns public.idempotency_claim
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row public.idempotency_keys;
  v_token uuid := gen_random_uuid();
  v_now timestamptz := clock_timestamp();
begin
  if p_lease_seconds is null or p_lease_seconds < 1 then
    raise exception 'lease must be at least 1 second, got %', p_lease_seconds using errcode = '22023';
  end if;

  insert into public.idempotency_keys as k
    (scope, key, request_fingerprint, status, lease_token, locked_until, expires_at)
  values
    (p_scope, p_key, p_request_fingerprint, 'in_progress', v_token,
     v_now + make_interval(secs => p_lease_seconds), v_now + make_interval(secs => p_ttl_seconds))
  on conflict (scope, key) do nothing;

  if found then
    return row('new', v_token, null, null, null)::public.idempotency_claim;
  end if;

  select * into v_row from public.idempotency_keys k
  where k.scope = p_scope and k.key = p_key
  for update;

  -- An expired key is as good as absent: the client's key starts a new life (unless
  -- a holder is still working under a live lease, as the cleanup also respects).
  if v_row.expires_at <= v_now and not (v_row.status = 'in_progress' and v_row.locked_until > v_now) then
    update public.idempotency_keys k
    set request_fingerprint = p_request_fingerprint, status = 'in_progress', lease_token = v_token,
        locked_until = v_now + make_interval(secs => p_lease_seconds),
        response_status = null, response_body = null, created_at = v_now, updated_at = v_now,
        expires_at = v_now + make_interval(secs => p_ttl_seconds)
    where k.scope = p_scope and k.key = p_key;
    return row('new', v_token, null, null, null)::public.idempotency_claim;
  end if;

  if v_row.request_fingerprint <> p_request_fingerprint then
    return row('mismatch', null, null, null, null)::public.idempotency_claim;
  end if;

  if v_row.status = 'completed' then
    return row('replay', null, v_row.response_status, v_row.response_body, null)::public.idempotency_claim;
  end if;

  if v_row.status = 'in_progress' and v_row.locked_until > v_now then
    return row('in_progress', null, null, null, public.lease_retry_after(v_row.locked_until))
      ::public.idempotency_claim;
  end if;

  update public.idempotency_keys k
  set status = 'in_progress', lease_token = v_token,
      locked_until = v_now + make_interval(secs => p_lease_seconds), updated_at = v_now
  where k.scope = p_scope and k.key = p_key;

  return row(
    case v_row.status when 'released' then 'new' else 'takeover' end,
    v_token, null, null, null
  )::public.idempotency_claim;
end;
$$;

-- Store the final response. Only the current lease holder may;
-- returns false to anyone else and changes nothing.
create function public.complete_idempotency_key(
  p_scope text,
  p_key text,
  p_lease_token uuid,
  p_response_status integer,
  p_response_body jsonb
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.idempotency_keys k
  set status = 'completed', lease_token = null, locked_until = null,
      response_status = p_response_status, response_body = p_response_body,
      updated_at = clock_timestamp()
  where k.scope = p_scope and k.key = p_key
    and k.status = 'in_progress' and k.lease_token = p_lease_token;
  return found;
end;
$$;

-- Give up the lease without storing anything (5xx outcomes): the next retry runs again.
create function public.release_idempotency_key(p_scope text, p_key text, p_lease_token uuid)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.idempotency_keys k
  set status = 'released', lease_token = null, locked_until = null, updated_at = clock_timestamp()
  where k.scope = p_scope and k.key = p_key
    and k.status = 'in_progress' and k.lease_token = p_lease_token;
  return found;
end;
$$;

-- Renews a held lease before each long step (a Stripe call), so that the lease only
-- ever has to outlive one step. Fenced: only the current holder can extend it.
create function public.extend_idempotency_lease(
  p_scope text,
  p_key text,
  p_lease_token uuid,
  p_lease_seconds integer
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.idempotency_keys k
  set locked_until = clock_timestamp() + make_interval(secs => p_lease_seconds),
      updated_at = clock_timestamp()
  where k.scope = p_scope and k.key = p_key
    and k.status = 'in_progress' and k.lease_token = p_lease_token;
  return found;
end;
$$;

select private.restrict_to_service_role(
  'public.lease_retry_after(timestamptz)',
  'public.claim_idempotency_key(text, text, text, integer, integer)',
  'public.complete_idempotency_key(text, text, uuid, integer, jsonb)',
  'public.release_idempotency_key(text, text, uuid)',
  'public.extend_idempotency_lease(text, text, uuid, integer)'
);
