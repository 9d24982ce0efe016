-- The checkout flow (SPEC §4): each step is one function, one transaction, one round trip.
--   begin_checkout  → order + prices + stock reservation + Stripe operation claim
--   (Stripe checkout.sessions.create with the stored key, outside any transaction)
--   record_checkout → session on the operation and the order + stored response
--   release_checkout / fail_checkout → the retryable and the terminal outcomes
-- Guarded by fencing tokens: a caller whose lease was taken over changes nothing.

-- The requested lines of a cart, as rows.
create function public.checkout_lines(p_items jsonb)
returns table (product_id uuid, quantity integer)
language sql
immutable
set search_path = ''
as $$ select x.product_id, x.quantity from jsonb_to_recordset(p_items) as x(product_id uuid, quantity integer) $$;

-- Puts an order's reserved stock back, once (stock_released_at is the guard).
create function public.release_order_stock(p_order_id uuid)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.orders o set stock_released_at = clock_timestamp(), updated_at = clock_timestamp()
  where o.id = p_order_id and o.stock_released_at is null;
  if not found then
    return false;
  end if;
  -- Same lock order as begin_checkout (product id), so the two cannot deadlock.
  perform 1 from public.products p
  where p.id in (select i.product_id from public.order_items i where i.order_id = p_order_id)
  order by p.id
  for update;
  update public.products p
  set stock = p.stock + i.quantity, updated_at = clock_timestamp()
  from public.order_items i
  where i.order_id = p_order_id and p.id = i.product_id and p.stock is not null;
  return true;
end;
$$;

-- The snapshot of an order the functions build their Stripe call and response from.
create function public.order_snapshot(p_order_id uuid)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'id', o.id,
    'status', o.status,
    'email', o.email,
    'currency', o.currency,
    'amount_subtotal', o.amount_subtotal,
    'amount_total', o.amount_total,
    'success_url', o.success_url,
    'cancel_url', o.cancel_url,
    'stripe_customer_id', o.stripe_customer_id,
    'promotion_code', o.promotion_code,
    'checkout_session_id', o.checkout_session_id,
    'checkout_url', o.checkout_url,
    'checkout_expires_at', extract(epoch from o.checkout_expires_at)::bigint,
    'items', (
      select coalesce(jsonb_agg(jsonb_build_object(
        'product_id', i.product_id, 'name', i.name, 'quantity', i.quantity,
        'unit_amount', i.unit_amount) order by i.product_id), '[]'::jsonb)
      from public.order_items i where i.order_id = o.id
    )
  )
  from public.orders o where o.id = p_order_id;
$$;

create type public.checkout_begin as (
  -- ready | recorded | closed | failed | in_progress | lease_lost | mismatch
  -- | product_unavailable | currency_mismatch | insufficient_stock | amount_too_large
  outcome text,
  order_snapshot jsonb,
  stripe_idempotency_key text,
  stripe_lease_token uuid,
  details jsonb,
  retry_after_seconds integer
);

-- Step 2 of the flow. Creates the order once per (scope, key): a later call for the
-- same key (a takeover after a crash) finds it and resumes its Stripe operation.
create function public.begin_checkout(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_request_fingerprint text,
  p_items jsonb,
  p_success_url text,
  p_cancel_url text,
  p_email text default null,
  p_user_id uuid default null,
  p_stripe_customer_id text default null,
  p_promotion_code text default null,
  p_session_ttl_seconds integer default 1800,
  p_lease_seconds integer default 60
)
returns public.checkout_begin
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_order public.orders;
  v_claim public.stripe_operation_claim;
  v_details jsonb;
  v_currency text;
  v_subtotal bigint;
  v_now timestamptz := clock_timestamp();
begin
  -- Fencing: only the current holder of the request lease may act for this key. The
  -- lease is renewed here because the Stripe call comes next.
  if not public.extend_idempotency_lease(p_scope, p_idempotency_key, p_request_lease_token,
      p_lease_seconds) then
    return row('lease_lost', null, null, null, null, 1)::public.checkout_begin;
  end if;

  select * into v_order from public.orders o
  where o.scope = p_scope and o.idempotency_key = p_idempotency_key;

  if v_order.id is not null then
    if v_order.request_fingerprint <> p_request_fingerprint then
      return row('mismatch', null, null, null, null, null)::public.checkout_begin;
    end if;
    -- Recorded by record_checkout (the URL is known). A session id alone was adopted
    -- by the webhook after a crash: the open operation is resumed below, and Stripe
    -- replays the session under the stored key.
    if v_order.checkout_url is not null then
      return row('recorded', public.order_snapshot(v_order.id), null, null, null, null)
        ::public.checkout_begin;
    end if;
    if v_order.status = 'failed' then
      return row('failed', public.order_snapshot(v_order.id), null, null,
        (select s.last_error from public.stripe_idempotency_keys s
         where s.operation_type = 'checkout:create' and s.operation_id = v_order.id::text), null)
        ::public.checkout_begin;
    end if;
    if v_order.status <> 'pending' then
      return row('closed', public.order_snapshot(v_order.id), null, null, null, null)
        ::public.checkout_begin;
    end if;
  else
    -- Lock in id order so that concurrent carts sharing products cannot deadlock.
    perform 1 from public.products p
    where p.id in (select l.product_id from public.checkout_lines(p_items) l)
    order by p.id
    for update;

    select jsonb_agg(l.product_id order by l.product_id) into v_details
    from public.checkout_lines(p_items) l
    left join public.products p on p.id = l.product_id and p.active
    where p.id is null;
    if v_details is not null then
      return row('product_unavailable', null, null, null, v_details, null)::public.checkout_begin;
    end if;

    select min(p.currency), sum(p.unit_amount::bigint * l.quantity) into v_currency, v_subtotal
    from public.checkout_lines(p_items) l join public.products p on p.id = l.product_id;

    if (select count(distinct p.currency) from public.checkout_lines(p_items) l
        join public.products p on p.id = l.product_id) > 1 then
      select jsonb_agg(jsonb_build_object('product_id', p.id, 'currency', p.currency) order by p.id)
      into v_details
      from public.checkout_lines(p_items) l join public.products p on p.id = l.product_id;
      return row('currency_mismatch', null, null, null, v_details, null)::public.checkout_begin;
    end if;

    -- Stripe's ceiling for one Checkout Session amount (8 digits in the smallest unit).
    if v_subtotal > 99999999 then
      return row('amount_too_large', null, null, null,
        jsonb_build_object('amount_total', v_subtotal, 'maximum', 99999999), null)::public.checkout_begin;
    end if;

    select jsonb_agg(jsonb_build_object(
      'product_id', p.id, 'requested', l.quantity, 'available', p.stock) order by p.id)
    into v_details
    from public.checkout_lines(p_items) l join public.products p on p.id = l.product_id
    where p.stock is not null and p.stock < l.quantity;
    if v_details is not null then
      return row('insufficient_stock', null, null, null, v_details, null)::public.checkout_begin;
    end if;

    update public.products p
    set stock = p.stock - l.quantity, updated_at = v_now
    from public.checkout_lines(p_items) l
    where p.id = l.product_id and p.stock is not null;

    insert into public.orders (
      scope, idempotency_key, request_fingerprint, user_id, email, currency,
      amount_subtotal, amount_total, success_url, cancel_url, stripe_customer_id,
      promotion_code, checkout_expires_at
    ) values (
      p_scope, p_idempotency_key, p_request_fingerprint, p_user_id, p_email, v_currency,
      v_subtotal, v_subtotal, p_success_url, p_cancel_url, p_stripe_customer_id,
      p_promotion_code,
      v_now + make_interval(secs => p_session_ttl_seconds)
    )
    returning * into v_order;

    insert into public.order_items (order_id, product_id, name, quantity, unit_amount)
    select v_order.id, p.id, p.name, l.quantity, p.unit_amount
    from public.checkout_lines(p_items) l join public.products p on p.id = l.product_id;
  end if;

  v_claim := public.check_stripe_idempotency(
    'checkout:create', v_order.id::text, v_order.request_fingerprint, p_lease_seconds);

  if v_claim.outcome = 'in_progress' then
    return row('in_progress', null, null, null, null, v_claim.retry_after_seconds)
      ::public.checkout_begin;
  end if;
  if v_claim.outcome <> 'claimed' then
    raise exception 'checkout operation for order % is %, expected claimed', v_order.id, v_claim.outcome;
  end if;

  return row('ready', public.order_snapshot(v_order.id), v_claim.stripe_idempotency_key,
    v_claim.lease_token, null, null)::public.checkout_begin;
end;
$$;

-- Step 4: the session Stripe created goes on the operation and the order, and the
-- response is stored for replay, all or nothing. Returns false (changing nothing)
-- when the caller no longer holds the Stripe operation's lease.
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
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_recorded_session text;
begin
  if not public.record_stripe_idempotency('checkout:create', p_order_id::text,
      p_stripe_lease_token, p_checkout_session_id) then
    return false;
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
  return true;
end;
$$;

-- Stripe refuses an expires_at less than 30 minutes ahead, and refuses it before
-- saving anything under the key. A resumed call whose first attempt never ran can hit
-- that; the function then stores a fresh expiry here (so every later retry under the
-- same key sends the same parameters again) and renews both leases for the new call.
create function public.refresh_checkout_expiry(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_order_id uuid,
  p_stripe_lease_token uuid,
  p_expires_at timestamptz,
  p_lease_seconds integer default 60
)
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.stripe_idempotency_keys s
  set locked_until = clock_timestamp() + make_interval(secs => p_lease_seconds),
      updated_at = clock_timestamp()
  where s.operation_type = 'checkout:create' and s.operation_id = p_order_id::text
    and s.status = 'open' and s.lease_token = p_stripe_lease_token;
  if not found then
    return false;
  end if;
  update public.orders o set checkout_expires_at = p_expires_at, updated_at = clock_timestamp()
  where o.id = p_order_id and o.status = 'pending';
  perform public.extend_idempotency_lease(p_scope, p_idempotency_key, p_request_lease_token,
    p_lease_seconds);
  return true;
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
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_released boolean;
begin
  v_released := public.release_stripe_idempotency('checkout:create', p_order_id::text,
    p_stripe_lease_token, p_error, p_rekey);
  perform public.release_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token);
  return v_released;
end;
$$;

-- A terminal Stripe rejection: the operation and the order fail, the reservation goes
-- back, and the error response is stored so every retry replays it.
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
returns boolean
language plpgsql
volatile
set search_path = ''
as $$
begin
  if not public.fail_stripe_idempotency('checkout:create', p_order_id::text,
      p_stripe_lease_token, p_error) then
    return false;
  end if;
  update public.orders o set status = 'failed', updated_at = clock_timestamp()
  where o.id = p_order_id and o.status = 'pending';
  perform public.release_order_stock(p_order_id);
  perform public.complete_idempotency_key(p_scope, p_idempotency_key, p_request_lease_token,
    p_response_status, p_response_body);
  return true;
end;
$$;

create type public.customer_begin as (
  outcome text, -- existing | claimed | in_progress | lease_lost
  stripe_customer_id text,
  stripe_idempotency_key text,
  stripe_lease_token uuid,
  email text,
  retry_after_seconds integer
);

-- Get the user's Stripe Customer, or claim the right to create it
-- (operation customer:create:<user id>), so concurrent first checkouts make one.
create function public.begin_customer(
  p_scope text,
  p_idempotency_key text,
  p_request_lease_token uuid,
  p_user_id uuid,
  p_email text,
  p_lease_seconds integer default 60
)
returns public.customer_begin
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_customer text;
  v_claim public.stripe_operation_claim;
begin
  -- The checkout's own request lease: fenced, and renewed before a Stripe call or a wait.
  if not public.extend_idempotency_lease(p_scope, p_idempotency_key, p_request_lease_token,
      p_lease_seconds) then
    return row('lease_lost', null, null, null, null, 1)::public.customer_begin;
  end if;

  select c.stripe_customer_id into v_customer from public.stripe_customers c
  where c.user_id = p_user_id;
  if v_customer is not null then
    return row('existing', v_customer, null, null, null, null)::public.customer_begin;
  end if;

  -- The parameters of the first claim are kept in metadata so that every retry
  -- sends Stripe identical parameters under the same key.
  v_claim := public.check_stripe_idempotency('customer:create', p_user_id::text,
    'customer:' || p_user_id::text, p_lease_seconds, jsonb_build_object('email', p_email));

  if v_claim.outcome = 'succeeded' then
    return row('existing', v_claim.stripe_resource_id, null, null, null, null)::public.customer_begin;
  end if;
  if v_claim.outcome = 'in_progress' then
    return row('in_progress', null, null, null, null, v_claim.retry_after_seconds)
      ::public.customer_begin;
  end if;
  return row('claimed', null, v_claim.stripe_idempotency_key, v_claim.lease_token,
    v_claim.metadata ->> 'email', null)::public.customer_begin;
end;
$$;

-- Returns the user's customer id; false-y (null) when the lease was lost.
create function public.record_customer(
  p_user_id uuid,
  p_stripe_lease_token uuid,
  p_stripe_customer_id text
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_customer text;
begin
  if not public.record_stripe_idempotency('customer:create', p_user_id::text,
      p_stripe_lease_token, p_stripe_customer_id) then
    return null;
  end if;
  insert into public.stripe_customers (user_id, stripe_customer_id)
  values (p_user_id, p_stripe_customer_id)
  on conflict (user_id) do nothing;
  select c.stripe_customer_id into v_customer from public.stripe_customers c
  where c.user_id = p_user_id;
  return v_customer;
end;
$$;

select private.restrict_to_service_role(
  'public.checkout_lines(jsonb)',
  'public.release_order_stock(uuid)',
  'public.order_snapshot(uuid)',
  'public.begin_checkout(text, text, uuid, text, jsonb, text, text, text, uuid, text, text, integer, integer)',
  'public.record_checkout(text, text, uuid, uuid, uuid, text, text, integer, timestamptz, integer, jsonb)',
  'public.refresh_checkout_expiry(text, text, uuid, uuid, uuid, timestamptz, integer)',
  'public.release_checkout(text, text, uuid, uuid, uuid, jsonb, boolean)',
  'public.fail_checkout(text, text, uuid, uuid, uuid, jsonb, integer, jsonb)',
  'public.begin_customer(text, text, uuid, uuid, text, integer)',
  'public.record_customer(uuid, uuid, text)'
);
