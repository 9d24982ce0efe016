-- Operations fail loudly (README, "Operations"):
-- 1. every cleanup run is recorded in cleanup_runs, and webhook_ops_report (deno task ops)
--    says when it last ran, so a cleanup that never runs is noticed;
-- 2. the pg_cron schedule is made again, and where pg_cron is usable a failure to
--    schedule fails this migration with a clear message. The cleanup migration before
--    this one only raised a notice nobody reads, which leaves abandoned reservations
--    holding their stock for ever.

create table public.cleanup_runs (
  id bigint generated always as identity primary key,
  ran_at timestamptz not null default now(),
  deleted_request_keys integer not null,
  deleted_stripe_keys integer not null,
  expired_orders integer not null
);

create index cleanup_runs_ran_at_idx on public.cleanup_runs (ran_at);

alter table public.cleanup_runs enable row level security;
revoke all on public.cleanup_runs from anon, authenticated;

create or replace function public.cleanup_expired_idempotency_keys(p_batch_size integer default 1000)
returns table (deleted_request_keys integer, deleted_stripe_keys integer, expired_orders integer)
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
  v_request integer;
  v_stripe integer;
  v_orders integer := 0;
  v_order_id uuid;
begin
  if p_batch_size is null or p_batch_size < 1 then
    raise exception 'batch size must be at least 1, got %', p_batch_size using errcode = '22023';
  end if;

  -- A key whose owner still holds a live lease is left alone even when expired.
  with doomed as (
    select k.scope, k.key from public.idempotency_keys k
    where k.expires_at < v_now and (k.status <> 'in_progress' or k.locked_until < v_now)
    order by k.expires_at
    limit p_batch_size
    for update skip locked
  )
  delete from public.idempotency_keys k using doomed d
  where k.scope = d.scope and k.key = d.key;
  get diagnostics v_request = row_count;

  with doomed as (
    select s.id from public.stripe_idempotency_keys s
    where s.expires_at < v_now - interval '7 days'
      and (s.locked_until is null or s.locked_until < v_now)
    order by s.expires_at
    limit p_batch_size
    for update skip locked
  )
  delete from public.stripe_idempotency_keys s using doomed d where s.id = d.id;
  get diagnostics v_stripe = row_count;

  -- Stripe allows a session at most 24 h; an hour past the planned expiry no payment
  -- can arrive for a still-pending order, so it expires through the order lifecycle
  -- (its reservation goes back, order.expired is queued). An order flagged for review
  -- waits for a human instead.
  for v_order_id in
    select o.id from public.orders o
    where o.status = 'pending' and not o.needs_review
      and o.checkout_expires_at < v_now - interval '1 hour'
    order by o.checkout_expires_at
    limit p_batch_size
    for update skip locked
  loop
    perform public.move_order(v_order_id, 'expired', 'cleanup');
    v_orders := v_orders + 1;
  end loop;

  -- The run is recorded (deno task ops reports the last one); a week of history is kept.
  insert into public.cleanup_runs (ran_at, deleted_request_keys, deleted_stripe_keys, expired_orders)
  values (v_now, v_request, v_stripe, v_orders);
  delete from public.cleanup_runs r where r.ran_at < v_now - interval '7 days';

  return query select v_request, v_stripe, v_orders;
end;
$$;

create or replace function public.webhook_ops_report(p_min_attempts integer default 2, p_limit integer default 100)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'failing_events', coalesce((
      select jsonb_agg(to_jsonb(f) order by f.attempts desc, f.received_at) from (
        select e.stripe_event_id, e.type, e.attempts, e.last_error, e.received_at, e.updated_at,
               e.payload -> 'data' -> 'object' ->> 'id' as object_id
        from public.stripe_webhook_events e
        where e.status = 'failed' and e.attempts >= p_min_attempts
        order by e.attempts desc, e.received_at
        limit p_limit
      ) f), '[]'::jsonb),
    'deferred_events', coalesce((
      select jsonb_agg(to_jsonb(d) order by d.received_at) from (
        select e.stripe_event_id, e.type, e.order_id, e.result, e.received_at
        from public.stripe_webhook_events e
        where e.status = 'deferred'
        order by e.received_at
        limit p_limit
      ) d), '[]'::jsonb),
    'orders_needing_review', coalesce((
      select jsonb_agg(to_jsonb(r) order by r.updated_at desc) from (
        select o.id as order_id, o.status, o.review_reason, o.amount_total, o.currency,
               o.checkout_session_id, o.payment_intent_id, o.email, o.updated_at
        from public.orders o
        where o.needs_review
        order by o.updated_at desc
        limit p_limit
      ) r), '[]'::jsonb),
    'dead_outbox_messages', coalesce((
      select jsonb_agg(to_jsonb(m) order by m.created_at) from (
        select x.id, x.topic, x.order_id, x.attempts, x.last_error, x.created_at
        from public.outbox x
        where x.status = 'dead'
        order by x.created_at
        limit p_limit
      ) m), '[]'::jsonb),
    'cleanup', (
      select jsonb_build_object(
        'last_ran_at', max(r.ran_at),
        'runs_last_24h', count(*) filter (where r.ran_at > now() - interval '24 hours'),
        'expired_orders_last_24h', coalesce(sum(r.expired_orders)
          filter (where r.ran_at > now() - interval '24 hours'), 0))
      from public.cleanup_runs r)
  );
$$;

-- Schedules the cleanup every 15 minutes with pg_cron. Where pg_cron cannot exist (not
-- installed, or installed but not preloaded: plain Postgres) it says so and returns; where
-- it exists (Supabase preloads it) enabling it or scheduling the job must work, or this
-- raises and the migration fails.
create function private.schedule_cleanup()
returns text
language plpgsql
set search_path = ''
as $$
declare
  v_preloaded boolean := coalesce(current_setting('shared_preload_libraries', true), '')
    ~ '(^|[\s,])pg_cron($|[\s,])';
begin
  if to_regprocedure('cron.schedule(text, text, text)') is null then
    if not exists (select 1 from pg_available_extensions e where e.name = 'pg_cron') then
      raise notice 'pg_cron is not available here: run public.cleanup_expired_idempotency_keys() on a schedule of your own';
      return 'pg_cron not available';
    end if;
    if not v_preloaded then
      raise notice 'pg_cron is installed but not in shared_preload_libraries: run public.cleanup_expired_idempotency_keys() on a schedule of your own';
      return 'pg_cron not loaded';
    end if;
    begin
      create extension if not exists pg_cron;
    exception when others then
      raise exception 'enabling pg_cron to schedule the cleanup failed: %', sqlerrm
        using hint = 'Enable pg_cron (Supabase: Database → Extensions) and run the migrations again; '
          || 'without the cleanup, abandoned checkouts keep their stock for ever.';
    end;
  end if;
  begin
    perform cron.schedule(
      'cleanup-expired-idempotency-keys',
      '*/15 * * * *',
      'select public.cleanup_expired_idempotency_keys(1000)'
    );
  exception when others then
    raise exception 'scheduling the cleanup with pg_cron failed: %', sqlerrm
      using hint = 'Fix pg_cron (the migration role needs usage on schema cron) and run the '
        || 'migrations again; without the cleanup, abandoned checkouts keep their stock for ever.';
  end;
  return 'scheduled';
end;
$$;

revoke execute on function private.schedule_cleanup() from public, anon, authenticated, service_role;

select private.schedule_cleanup();
