-- Events that are not this endpoint's to apply (README, "The Stripe webhook"): an event
-- whose livemode differs from the mode of the configured Stripe key (test and live never
-- mix), and an event of a connected account (it carries `account`; this project does not
-- use Connect, so such an event is never about our orders). Both are refused before any
-- effect and stored as ignored with the reason, so Stripe gets its 200 and stops.

-- Why an event must not be applied here, or null. p_livemode is the mode of the
-- webhook's STRIPE_SECRET_KEY; null skips the mode check (SQL callers in tests).
create function public.stripe_event_refusal(p_event jsonb, p_livemode boolean)
returns text
language plpgsql
immutable
set search_path = ''
as $$
declare
  v_livemode boolean := case when jsonb_typeof(p_event -> 'livemode') = 'boolean'
    then (p_event -> 'livemode')::boolean end;
begin
  if p_livemode is not null and v_livemode is distinct from p_livemode then
    return format('livemode %s does not match the endpoint''s %s key',
      coalesce(v_livemode::text, 'missing'), case when p_livemode then 'live-mode' else 'test-mode' end);
  end if;
  if jsonb_typeof(p_event -> 'account') = 'string' then
    return format('event of connected account %s; this endpoint does not use Connect',
      p_event ->> 'account');
  end if;
  return null;
end;
$$;

-- The webhook's one RPC, now given the endpoint's mode (the outcomes are unchanged).
drop function public.apply_stripe_event(jsonb);

create function public.apply_stripe_event(p_event jsonb, p_livemode boolean default null)
returns public.stripe_event_outcome
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_event_id text := p_event ->> 'id';
  v_type text := p_event ->> 'type';
  v_object jsonb := p_event -> 'data' -> 'object';
  v_row public.stripe_webhook_events;
  v_effect public.stripe_event_effect;
  v_state text;
  v_message text;
  v_refusal text := public.stripe_event_refusal(p_event, p_livemode);
  v_now timestamptz := clock_timestamp();
begin
  if v_event_id is null or v_event_id !~ '^evt_[A-Za-z0-9_]+$' or coalesce(v_type, '') = ''
     or jsonb_typeof(v_object) is distinct from 'object' then
    raise exception 'not a Stripe event: id %, type %', coalesce(v_event_id, 'null'), coalesce(v_type, 'null')
      using errcode = '22023';
  end if;

  -- A second delivery of an event whose first is still running must not wait for it
  -- (Stripe would time out) nor answer 2xx before that effect commits: it gets 409 and
  -- Stripe retries. The lock ends with the transaction, after the commit is visible.
  if not pg_try_advisory_xact_lock(hashtext('stripe_webhook_events'), hashtext(v_event_id)) then
    return row('in_flight', null, null, null, null, null)::public.stripe_event_outcome;
  end if;

  select * into v_row from public.stripe_webhook_events e where e.stripe_event_id = v_event_id for update;
  if v_row.id is not null and v_row.status <> 'failed' then
    return row('duplicate', v_row.status, v_row.order_id,
      (select o.status from public.orders o where o.id = v_row.order_id), v_row.attempts, v_row.result)
      ::public.stripe_event_outcome;
  end if;
  if v_row.id is null then
    insert into public.stripe_webhook_events
      (stripe_event_id, type, livemode, api_version, event_created, payload, status)
    values (
      v_event_id, v_type, coalesce((p_event ->> 'livemode')::boolean, false), p_event ->> 'api_version',
      coalesce(to_timestamp((p_event ->> 'created')::double precision), v_now), p_event, 'processing')
    returning * into v_row;
  end if;

  begin
    -- Refused events are stored (a retry is then a duplicate) but touch nothing.
    v_effect := case when v_refusal is not null
      then row('ignored', null, v_refusal)::public.stripe_event_effect
      else public.apply_stripe_event_effect(v_event_id, v_type, v_object) end;
  exception when others then
    -- The block's subtransaction has rolled the effect back; only the failure is kept.
    get stacked diagnostics v_state = returned_sqlstate, v_message = message_text;
    update public.stripe_webhook_events e
    set status = 'failed', attempts = e.attempts + 1, last_error = left(v_state || ': ' || v_message, 2000),
        updated_at = v_now
    where e.id = v_row.id
    returning * into v_row;
    return row('failed', 'failed', null, null, v_row.attempts, v_row.last_error)::public.stripe_event_outcome;
  end;

  update public.stripe_webhook_events e
  set status = v_effect.status, order_id = v_effect.order_id, result = v_effect.detail,
      attempts = e.attempts + 1, updated_at = v_now,
      processed_at = case when v_effect.status in ('processed', 'ignored') then v_now end
  where e.id = v_row.id
  returning * into v_row;

  return row(case when v_effect.status = 'ignored' then 'ignored' else 'processed' end,
    v_row.status, v_row.order_id,
    (select o.status from public.orders o where o.id = v_row.order_id),
    v_row.attempts, v_row.result)::public.stripe_event_outcome;
end;
$$;

select private.restrict_to_service_role(
  'public.stripe_event_refusal(jsonb, boolean)',
  'public.apply_stripe_event(jsonb, boolean)'
);
