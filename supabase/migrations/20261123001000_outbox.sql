-- Side effects beyond the database (receipt emails, fulfilment, alerts) as messages
-- written in the same transaction as the state change that causes them (SPEC §5).
-- Nothing executes them inline: a worker claims them with a lease, does the work,
-- and completes them. dedupe_key makes "fulfil order X" exist once whatever happens.
create table public.outbox (
  id bigint generated always as identity primary key,
  topic text not null check (topic ~ '^[a-z_]+\.[a-z_]+$'),
  dedupe_key text not null unique check (length(dedupe_key) between 1 and 300),
  order_id uuid references public.orders (id) on delete cascade,
  source_event_id text,
  payload jsonb not null default '{}'::jsonb,
  status text not null default 'pending' check (status in ('pending', 'processing', 'done', 'dead')),
  attempts integer not null default 0 check (attempts >= 0),
  lease_token uuid,
  locked_until timestamptz,
  available_at timestamptz not null default now(),
  last_error text,
  created_at timestamptz not null default now(),
  processed_at timestamptz,
  constraint outbox_lease_only_processing check (
    (status = 'processing') = (lease_token is not null and locked_until is not null)
  )
);

create index outbox_ready_idx on public.outbox (available_at) where status in ('pending', 'processing');

alter table public.outbox enable row level security;
revoke all on public.outbox from anon, authenticated;

-- Returns true when the message is new, false when its dedupe_key was already queued.
create function public.enqueue_outbox(
  p_topic text,
  p_dedupe_key text,
  p_order_id uuid,
  p_source_event_id text,
  p_payload jsonb
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  insert into public.outbox (topic, dedupe_key, order_id, source_event_id, payload)
  values (p_topic, p_dedupe_key, p_order_id, p_source_event_id, coalesce(p_payload, '{}'::jsonb))
  on conflict (dedupe_key) do nothing;
  return found;
end;
$$;

-- A worker takes up to p_limit due messages (pending, or processing with an expired
-- lease: its worker crashed) and holds them for p_lease_seconds.
create function public.claim_outbox(p_limit integer default 10, p_lease_seconds integer default 60)
returns setof public.outbox
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
begin
  return query
  with due as (
    select o.id from public.outbox o
    where o.available_at <= v_now
      and (o.status = 'pending' or (o.status = 'processing' and o.locked_until < v_now))
    order by o.available_at, o.id
    limit greatest(1, p_limit)
    for update skip locked
  )
  update public.outbox o
  set status = 'processing', lease_token = gen_random_uuid(),
      locked_until = v_now + make_interval(secs => p_lease_seconds), attempts = o.attempts + 1
  from due where o.id = due.id
  returning o.*;
end;
$$;

-- Done (p_error null) or retry later with backoff; after p_max_attempts the message is dead
-- and shows in the operator report. Only the current lease holder may complete.
create function public.complete_outbox(
  p_id bigint,
  p_lease_token uuid,
  p_error text default null,
  p_max_attempts integer default 10
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
begin
  update public.outbox o
  set status = case
        when p_error is null then 'done'
        when o.attempts >= p_max_attempts then 'dead'
        else 'pending' end,
      processed_at = case when p_error is null then v_now end,
      last_error = p_error,
      available_at = case when p_error is null then o.available_at
        else v_now + make_interval(secs => least(3600, 5 * power(2, o.attempts)::integer)) end,
      lease_token = null, locked_until = null
  where o.id = p_id and o.status = 'processing' and o.lease_token = p_lease_token;
  return found;
end;
$$;

select private.restrict_to_service_role(
  'public.enqueue_outbox(text, text, uuid, text, jsonb)',
  'public.claim_outbox(integer, integer)',
  'public.complete_outbox(bigint, uuid, text, integer)'
);
