-- The checkout's fenced writes after the Stripe call (phases, as in checkout_flow.ts:
-- validate → claim → begin → Stripe → record) say why they changed nothing: 'ok', or
-- 'lease_lost' when the caller no longer holds the checkout's Stripe operation.
--
-- An order is re-checked at every step after begin (README, "How a request runs"): the
-- fenced writes after the Stripe call lock the order and act only while it is still
-- 'pending'. An order expired (the cleanup) or cancelled (cancel_checkout) while its
-- Stripe call ran answers 'order_closed': no stock moves, no URL is handed out, and the
-- function expires the session Stripe made as its own operation (checkout:expire).
-- Answers: 'ok' | 'lease_lost' | 'order_closed'.
drop function public.record_checkout(text, text, uuid, uuid, uuid, text, text, integer, timestamptz, integer, jsonb);
drop function public.refresh_checkout_expiry(text, text, uuid, uuid, uuid, timestamptz, integer);
drop function public.release_checkout(text, text, uuid, uuid, uuid, jsonb, boolean);
drop function public.fail_checkout(text, text, uuid, uuid, uuid, jsonb, integer, jsonb);

-- Record: the session goes on the operation whatever the order's state (Stripe made it
-- under the order's key); a closed order also keeps its id, so the webhook knows the
-- session as this order's, but gets no URL (begin_checkout then answers 'closed').
create function public.record_checkout(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_order_id uuid,
  p_stripe_lease_token uuid,
  p_checkout_session_id text,
  p_checkout_url text,
  p_amount_total integer,
  p_expires_at timestamptz,
  p_response_status integer,
  p_response_body jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_status text;
  v_recorded_session text;
begin
  -- Same lock as move_order: a concurrent expiry or cancel either finished or waits.
  select o.status into v_status from public.orders o where o.id = p_order_id for update;
  if public.record_stripe_idempotency('checkout:create', p_order_id::text,
      p_stripe_lease_token, p_checkout_session_id) <> 'ok' then
    return 'lease_lost';
  end if;

  if v_status is distinct from 'pending' then
    update public.orders o
    set checkout_session_id = p_checkout_session_id, updated_at = clock_timestamp()
    where o.id = p_order_id and o.checkout_session_id is null;
    return 'order_closed';
  end if;

  -- The webhook may have recorded the session first (when an earlier attempt crashed).
  update public.orders o
  set checkout_session_id = coalesce(o.checkout_session_id, p_checkout_session_id),
      checkout_url = p_checkout_url, amount_total = p_amount_total,
      checkout_expires_at = p_expires_at, updated_at = clock_timestamp()
  where o.id = p_order_id
  returning o.checkout_session_id into v_recorded_session;

  if v_recorded_session is distinct from p_checkout_session_id then
    raise exception 'order % already has session %, refusing %',
      p_order_id, v_recorded_session, p_checkout_session_id;
  end if;

  -- The session is recorded whoever holds the client key now; the answer is stored
  -- only by its holder (a later holder finds the order recorded and stores it then).
  perform public.complete_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token,
    p_response_status, p_response_body);
  return 'ok';
end;
$$;

-- A fresh expiry for a resumed call (Stripe refused the stored one before saving
-- anything): only for a pending order. A closed order's operation fails instead, since
-- nothing was created under its key and nobody will resume it.
create function public.refresh_checkout_expiry(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_order_id uuid,
  p_stripe_lease_token uuid,
  p_expires_at timestamptz,
  p_lease_seconds integer default 60
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_status text;
begin
  select o.status into v_status from public.orders o where o.id = p_order_id for update;
  if v_status is distinct from 'pending' then
    if public.fail_stripe_idempotency('checkout:create', p_order_id::text, p_stripe_lease_token,
        jsonb_build_object('code', 'order_closed', 'order_status', v_status,
          'at', clock_timestamp())) <> 'ok' then
      return 'lease_lost';
    end if;
    return 'order_closed';
  end if;

  update public.stripe_idempotency_keys s
  set locked_until = clock_timestamp() + make_interval(secs => p_lease_seconds),
      updated_at = clock_timestamp()
  where s.operation_type = 'checkout:create' and s.operation_id = p_order_id::text
    and s.status = 'open' and s.lease_token = p_stripe_lease_token;
  if not found then
    return 'lease_lost';
  end if;
  update public.orders o set checkout_expires_at = p_expires_at, updated_at = clock_timestamp()
  where o.id = p_order_id;
  perform public.extend_idempotency_lease(p_scope, p_idempotency_key, p_request_lease_token,
    p_lease_seconds);
  return 'ok';
end;
$$;

-- A retryable Stripe outcome: the operation stays open (same key unless p_rekey),
-- both leases end, nothing is stored, the reservation is kept for the retry.
create function public.release_checkout(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_order_id uuid,
  p_stripe_lease_token uuid,
  p_error jsonb,
  p_rekey boolean default false
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_released text;
begin
  v_released := public.release_stripe_idempotency('checkout:create', p_order_id::text,
    p_stripe_lease_token, p_error, p_rekey);
  perform public.release_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token);
  return v_released;
end;
$$;

-- A terminal Stripe rejection: the operation fails; a pending order fails with it, its
-- reservation goes back and the error response is stored. An order that is no longer
-- pending (expired, cancelled, paid through an adopted session) is left as it is: its
-- stock is not this function's to move.
create function public.fail_checkout(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_order_id uuid,
  p_stripe_lease_token uuid,
  p_error jsonb,
  p_response_status integer,
  p_response_body jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_status text;
begin
  select o.status into v_status from public.orders o where o.id = p_order_id for update;
  if public.fail_stripe_idempotency('checkout:create', p_order_id::text,
      p_stripe_lease_token, p_error) <> 'ok' then
    return 'lease_lost';
  end if;
  if v_status is distinct from 'pending' then
    return 'order_closed';
  end if;
  perform public.move_order(p_order_id, 'failed', 'checkout');
  perform public.complete_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token,
    p_response_status, p_response_body);
  return 'ok';
end;
$$;

select private.restrict_to_service_role(
  'public.record_checkout(text, text, uuid, uuid, uuid, text, text, integer, timestamptz, integer, jsonb)',
  'public.refresh_checkout_expiry(text, text, uuid, uuid, uuid, timestamptz, integer)',
  'public.release_checkout(text, text, uuid, uuid, uuid, jsonb, boolean)',
  'public.fail_checkout(text, text, uuid, uuid, uuid, jsonb, integer, jsonb)'
);
