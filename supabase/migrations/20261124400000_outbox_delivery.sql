-- Delivering the outbox (README "The outbox"): outbox-dispatch claims due messages with
-- a lease, POSTs each to the shop's receiver, and completes it, or schedules the next
-- attempt with exponential backoff and jitter until it gives up (dead). A dead message
-- stays visible (deno task ops) until an operator re-queues it.
alter table public.outbox rename column available_at to next_attempt_at;

alter table public.outbox
  -- The id receivers deduplicate by (webhook-id): the same on every attempt, and unique
  -- across databases, unlike the identity column, which restarts after a reset.
  add column message_id uuid not null default gen_random_uuid(),
  add column last_attempt_at timestamptz,
  add column dead_at timestamptz,
  add constraint outbox_message_id_unique unique (message_id);

update public.outbox o set dead_at = coalesce(o.processed_at, o.created_at) where o.status = 'dead';
alter table public.outbox
  add constraint outbox_dead_at_only_dead check ((status = 'dead') = (dead_at is not null));

drop index public.outbox_ready_idx;
create index outbox_due_idx on public.outbox (next_attempt_at, id) where status in ('pending', 'processing');

drop function public.claim_outbox(integer, integer);
drop function public.complete_outbox(bigint, uuid, text, integer);

-- Takes up to p_limit due messages — pending, or processing under an expired lease (its
-- dispatcher died mid-delivery) — and leases them for p_lease_seconds. skip locked: two
-- dispatchers never take the same message, and neither waits for the other. Messages due
-- after p_due_before are left alone, so that one dispatch pass never retries a message it
-- has just failed. A message out of attempts (its lease expired on the last one, or the
-- limit was lowered) is dead.
create function public.claim_outbox(
  p_limit integer default 1,
  p_lease_seconds integer default 60,
  p_max_attempts integer default 14,
  p_due_before timestamptz default null
)
returns setof public.outbox
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
begin
  if p_limit is null or p_limit < 1 or p_lease_seconds is null or p_lease_seconds < 1
     or p_max_attempts is null or p_max_attempts < 1 then
    raise exception 'claim_outbox needs a limit, lease and max attempts of at least 1, got %, %, %',
      p_limit, p_lease_seconds, p_max_attempts using errcode = '22023';
  end if;

  with abandoned as (
    select o.id from public.outbox o
    where o.attempts >= p_max_attempts
      and (o.status = 'pending' or (o.status = 'processing' and o.locked_until < v_now))
    for update skip locked
  )
  update public.outbox o
  set status = 'dead', dead_at = v_now, lease_token = null, locked_until = null,
      last_error = left(coalesce(o.last_error || '; ', '') ||
        case when o.status = 'processing'
          then format('attempt %s: no answer recorded (the dispatcher stopped)', o.attempts)
          else format('%s attempts made, the limit is now %s', o.attempts, p_max_attempts) end, 2000)
  from abandoned a where o.id = a.id;

  return query
  with due as (
    select o.id from public.outbox o
    where o.next_attempt_at <= least(v_now, coalesce(p_due_before, v_now))
      and (o.status = 'pending' or (o.status = 'processing' and o.locked_until < v_now))
      and o.attempts < p_max_attempts
    order by o.next_attempt_at, o.id
    limit p_limit
    for update skip locked
  )
  update public.outbox o
  set status = 'processing', lease_token = gen_random_uuid(),
      locked_until = v_now + make_interval(secs => p_lease_seconds),
      attempts = o.attempts + 1, last_attempt_at = v_now
  from due where o.id = due.id
  returning o.*;
end;
$$;

-- The receiver answered 2xx. Only the holder of the current lease may complete: a
-- dispatcher whose lease ran out (and whose message another one took) changes nothing.
create function public.complete_outbox(p_id bigint, p_lease_token uuid)
returns text -- done | lease_lost
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.outbox o
  set status = 'done', processed_at = clock_timestamp(), last_error = null,
      lease_token = null, locked_until = null
  where o.id = p_id and o.status = 'processing' and o.lease_token = p_lease_token;
  return case when found then 'done' else 'lease_lost' end;
end;
$$;

-- The wait before attempt n + 1 after attempt n failed: p_base_seconds · 2^(n−1), at most
-- six hours, times a jitter factor in [0.8, 1.2) so that receivers coming back from an
-- outage are not hit by every retry at once. With the default base (30 s) and 14 attempts
-- the last one comes about 26 h after the first.
create function public.outbox_retry_delay(p_attempts integer, p_base_seconds double precision)
returns interval
language sql
volatile
set search_path = ''
as $$
  select make_interval(secs => least(21600, p_base_seconds * power(2, greatest(p_attempts, 1) - 1))
    * (0.8 + random() * 0.4))
$$;

create type public.outbox_failure as (
  outcome text, -- retry | dead | lease_lost
  attempts integer,
  next_attempt_at timestamptz
);

-- The receiver failed (non-2xx, timeout, refused connection): retry later, or, after
-- p_max_attempts attempts, dead. Fenced by the lease like complete_outbox.
create function public.fail_outbox(
  p_id bigint,
  p_lease_token uuid,
  p_error text,
  p_base_seconds double precision default 30,
  p_max_attempts integer default 14
)
returns public.outbox_failure
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row public.outbox;
  v_now timestamptz := clock_timestamp();
begin
  if p_base_seconds is null or p_base_seconds <= 0 then
    raise exception 'the retry base must be positive, got %', p_base_seconds using errcode = '22023';
  end if;
  update public.outbox o
  set status = case when o.attempts >= p_max_attempts then 'dead' else 'pending' end,
      dead_at = case when o.attempts >= p_max_attempts then v_now end,
      next_attempt_at = case when o.attempts >= p_max_attempts then o.next_attempt_at
        else v_now + public.outbox_retry_delay(o.attempts, p_base_seconds) end,
      last_error = left(format('attempt %s: %s', o.attempts, coalesce(p_error, 'failed')), 2000),
      lease_token = null, locked_until = null
  where o.id = p_id and o.status = 'processing' and o.lease_token = p_lease_token
  returning * into v_row;
  if v_row.id is null then
    return row('lease_lost', null, null)::public.outbox_failure;
  end if;
  return row(case when v_row.status = 'dead' then 'dead' else 'retry' end, v_row.attempts,
    case when v_row.status = 'pending' then v_row.next_attempt_at end)::public.outbox_failure;
end;
$$;

-- An operator's second chance for a dead message (deno task ops --requeue=<id>): due now,
-- with a fresh set of attempts and the same message id, so the receiver can still
-- recognise it if an earlier attempt did arrive.
create function public.requeue_outbox(p_id bigint)
returns text -- requeued | not_dead | not_found
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_status text;
begin
  select o.status into v_status from public.outbox o where o.id = p_id for update;
  if v_status is null then
    return 'not_found';
  end if;
  if v_status <> 'dead' then
    return 'not_dead';
  end if;
  update public.outbox o
  set status = 'pending', attempts = 0, dead_at = null, next_attempt_at = clock_timestamp()
  where o.id = p_id;
  return 'requeued';
end;
$$;

select private.restrict_to_service_role(
  'public.claim_outbox(integer, integer, integer, timestamptz)',
  'public.complete_outbox(bigint, uuid)',
  'public.outbox_retry_delay(integer, double precision)',
  'public.fail_outbox(bigint, uuid, text, double precision, integer)',
  'public.requeue_outbox(bigint)'
);
