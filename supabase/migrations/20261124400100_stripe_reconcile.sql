-- Reconciliation with Stripe (README "Reconciliation"): stripe-reconcile reads the events
-- Stripe holds (GET /v1/events, 30 days), applies each through apply_stripe_event like a
-- webhook delivery, and expires at Stripe the sessions of orders the cleanup released.
-- This migration holds its cursor and the order queries it needs.

-- One row. The cursor is the newest event of a walk in which every older event was
-- applied: the next run continues after it (and re-reads an overlap window before it,
-- for events Stripe lists late). Until a first cursor exists, a run scans Stripe's list
-- from the newest event down to the oldest it still holds; scan_event_id is how far the
-- scan got when a run's time budget ended, so the next run continues it.
create table public.stripe_reconcile_state (
  id boolean primary key default true check (id),
  cursor_event_id text check (cursor_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  cursor_created timestamptz,
  scan_event_id text check (scan_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  scan_since timestamptz,
  scan_oldest_event_id text check (scan_oldest_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  last_run_at timestamptz,
  last_summary jsonb,
  updated_at timestamptz not null default now(),
  constraint stripe_reconcile_state_cursor_whole check (
    (cursor_event_id is null) = (cursor_created is null)
  ),
  constraint stripe_reconcile_state_scan_whole check (
    (scan_event_id is null) = (scan_since is null)
  )
);

insert into public.stripe_reconcile_state (id) values (true);

alter table public.stripe_reconcile_state enable row level security;
revoke all on public.stripe_reconcile_state from anon, authenticated;

create function public.reconcile_state()
returns public.stripe_reconcile_state
language sql
stable
set search_path = ''
as $$ select * from public.stripe_reconcile_state s where s.id $$;

-- Moves the cursor to an applied event. Never backwards: two runs side by side each
-- report positions they have proved, and the later one in time wins. A cursor ends the
-- scan that led to it.
create function public.advance_reconcile_cursor(p_event_id text, p_created bigint)
returns public.stripe_reconcile_state
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_row public.stripe_reconcile_state;
begin
  update public.stripe_reconcile_state s
  set cursor_event_id = p_event_id, cursor_created = to_timestamp(p_created),
      scan_event_id = null, scan_since = null, scan_oldest_event_id = null,
      updated_at = clock_timestamp()
  where s.id and (s.cursor_created is null or s.cursor_created <= to_timestamp(p_created))
  returning * into v_row;
  if v_row.id is null then
    select * into v_row from public.stripe_reconcile_state s where s.id;
  end if;
  return v_row;
end;
$$;

-- Where an unfinished scan stands: the last event it listed and the oldest it has seen.
-- Ignored once a cursor exists (a parallel run finished first).
create function public.save_reconcile_scan(
  p_since timestamptz,
  p_scan_event_id text,
  p_oldest_event_id text
)
returns void
language sql
volatile
set search_path = ''
as $$
  update public.stripe_reconcile_state s
  set scan_since = p_since, scan_event_id = p_scan_event_id, scan_oldest_event_id = p_oldest_event_id,
      updated_at = clock_timestamp()
  where s.id and s.cursor_event_id is null;
$$;

-- Forgets a cursor Stripe no longer knows (its event is older than Stripe's 30 days):
-- the next run scans again from p_since.
create function public.reset_reconcile_cursor(p_event_id text)
returns void
language sql
volatile
set search_path = ''
as $$
  update public.stripe_reconcile_state s
  set cursor_event_id = null, cursor_created = null, updated_at = clock_timestamp()
  where s.id and s.cursor_event_id = p_event_id;
$$;

create function public.finish_reconcile_run(p_summary jsonb)
returns void
language sql
volatile
set search_path = ''
as $$
  update public.stripe_reconcile_state s
  set last_run_at = clock_timestamp(), last_summary = p_summary, updated_at = clock_timestamp()
  where s.id;
$$;

-- Set once Stripe's session of an order is known to be closed for good (expired at
-- Stripe by stripe-reconcile, or found complete or expired there): nobody can pay it.
alter table public.orders add column checkout_session_closed_at timestamptz;
create index stripe_webhook_events_order_type_idx on public.stripe_webhook_events (order_id, type)
  where order_id is not null;
create index orders_session_to_close_idx on public.orders (updated_at)
  where status = 'expired' and checkout_session_closed_at is null and checkout_session_id is not null;

-- Orders whose stock went back while their Checkout Session may still be open at
-- Stripe: the cleanup expired them without hearing from Stripe. An order that Stripe's
-- own checkout.session.expired event expired needs nothing, and is marked closed here
-- so it leaves the index above.
create function public.sessions_to_expire(p_limit integer default 50)
returns table (order_id uuid, checkout_session_id text)
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.orders o
  set checkout_session_closed_at = e.processed_at
  from public.stripe_webhook_events e
  where o.status = 'expired' and o.checkout_session_closed_at is null
    and o.checkout_session_id is not null
    and e.order_id = o.id and e.type = 'checkout.session.expired' and e.status = 'processed'
    and e.payload -> 'data' -> 'object' ->> 'id' = o.checkout_session_id;

  return query
  select o.id, o.checkout_session_id from public.orders o
  where o.status = 'expired' and o.checkout_session_closed_at is null
    and o.checkout_session_id is not null
  order by o.updated_at, o.id
  limit greatest(1, p_limit);
end;
$$;

-- Stripe's answer about an order's session: expired now, or it was not open any more
-- (already expired, or completed — a payment after the release is the webhook's to flag).
create function public.record_session_closed(p_order_id uuid, p_checkout_session_id text)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.orders o set checkout_session_closed_at = clock_timestamp()
  where o.id = p_order_id and o.checkout_session_id = p_checkout_session_id
    and o.checkout_session_closed_at is null;
  return found;
end;
$$;

select private.restrict_to_service_role(
  'public.reconcile_state()',
  'public.advance_reconcile_cursor(text, bigint)',
  'public.save_reconcile_scan(timestamptz, text, text)',
  'public.reset_reconcile_cursor(text)',
  'public.finish_reconcile_run(jsonb)',
  'public.sessions_to_expire(integer)',
  'public.record_session_closed(uuid, text)'
);
