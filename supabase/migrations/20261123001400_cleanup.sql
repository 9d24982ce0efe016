-- Housekeeping (SPEC §6): expired request keys, old Stripe operation rows, and the
-- stock of checkouts abandoned past their session's expiry (through the order
-- lifecycle of the migrations before this one). Each call does bounded
-- work (at most p_batch_size rows of each kind) so it never holds long locks; call
-- it again while it reports a full batch.
create function public.cleanup_expired_idempotency_keys(p_batch_size integer default 1000)
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

  return query select v_request, v_stripe, v_orders;
end;
$$;

select private.restrict_to_service_role(
  'public.cleanup_expired_idempotency_keys(integer)'
);

-- On Supabase (pg_cron available) run it every 15 minutes; elsewhere run it by hand.
-- A server with the extension's files but without it preloaded cannot create it:
-- that is not a reason to fail the migration.
do $$
begin
  if exists (select 1 from pg_available_extensions where name = 'pg_cron') then
    begin
      create extension if not exists pg_cron;
      perform cron.schedule(
        'cleanup-expired-idempotency-keys',
        '*/15 * * * *',
        'select public.cleanup_expired_idempotency_keys(1000)'
      );
    exception when others then
      raise notice 'pg_cron is not usable here (%); schedule the cleanup yourself', sqlerrm;
    end;
  end if;
end;
$$;
