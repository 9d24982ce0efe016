-- What deno task ops adds about closing the loop: the outbox backlog (how much waits,
-- how much is retrying, the oldest due message) and where reconciliation stands.
-- Dead messages themselves are listed by webhook_ops_report. Service role only.
create function public.delivery_ops_report()
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'outbox', (
      select jsonb_build_object(
        'pending', count(*) filter (where x.status = 'pending' and x.attempts = 0),
        'retrying', count(*) filter (where x.status = 'pending' and x.attempts > 0),
        'in_flight', count(*) filter (where x.status = 'processing'),
        'dead', count(*) filter (where x.status = 'dead'),
        'oldest_due_at', min(x.next_attempt_at) filter (where x.status in ('pending', 'processing')),
        'last_error', (
          select y.last_error from public.outbox y
          where y.status = 'pending' and y.attempts > 0
          order by y.last_attempt_at desc nulls last limit 1)
      )
      from public.outbox x where x.status <> 'done'
    ),
    'reconcile', (
      select jsonb_build_object(
        'cursor_event_id', s.cursor_event_id,
        'cursor_created', s.cursor_created,
        'scanning', s.scan_event_id is not null,
        'last_run_at', s.last_run_at,
        'last_summary', s.last_summary,
        'sessions_to_expire', (
          select count(*) from public.orders o
          where o.status = 'expired' and o.checkout_session_closed_at is null
            and o.checkout_session_id is not null)
      )
      from public.stripe_reconcile_state s where s.id
    )
  );
$$;

select private.restrict_to_service_role('public.delivery_ops_report()');
