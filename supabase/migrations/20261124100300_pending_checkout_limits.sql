-- Reservations are not free for anyone to hold (README, "Limits on open checkouts"):
-- begin_checkout refuses a new order while the same guest e-mail (or, for
-- enhanced-checkout, the same user) already holds p_max_pending_per_email open
-- checkouts, or the same client IP (guests) p_max_pending_per_ip. An open checkout is a
-- pending order whose session has not expired: it holds stock and can still be paid
-- (awaiting_payment orders are paid for by a delayed method the customer already chose,
-- so they do not count). 0 disables a limit.
--
-- No check-then-insert race: the count runs under transaction-level advisory locks
-- on the e-mail (or user) and on the IP, always taken in that order, and held until
-- begin_checkout commits its order, so the next request for the same e-mail or IP
-- counts it.

alter table public.orders add column client_ip inet;

create index orders_pending_guest_email_idx on public.orders (lower(email))
  where status = 'pending' and scope = 'guest';
create index orders_pending_client_ip_idx on public.orders (client_ip)
  where status = 'pending' and client_ip is not null;
create index orders_pending_user_idx on public.orders (user_id)
  where status = 'pending' and user_id is not null;

-- Null when the new checkout is within the limits (the locks stay held until commit);
-- else what was exceeded: {limit, per: email | user | ip, retry_after_seconds}, the
-- wait being until the earliest of those checkouts expires.
create function public.pending_checkout_limit(
  p_scope text,
  p_email text,
  p_user_id uuid,
  p_client_ip text,
  p_max_per_email integer,
  p_max_per_ip integer
)
returns jsonb
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_now timestamptz := clock_timestamp();
  v_open integer;
  v_first_expiry timestamptz;
  v_ip inet := p_client_ip::inet;
begin
  if coalesce(p_max_per_email, 0) > 0 and (p_user_id is not null or p_email is not null) then
    if p_user_id is not null then
      perform pg_advisory_xact_lock(hashtext('pending_checkouts:user'), hashtext(p_user_id::text));
      select count(*), min(o.checkout_expires_at) into v_open, v_first_expiry
      from public.orders o
      where o.user_id = p_user_id and o.status = 'pending' and o.checkout_expires_at > v_now;
    else
      perform pg_advisory_xact_lock(hashtext('pending_checkouts:email'), hashtext(lower(p_email)));
      select count(*), min(o.checkout_expires_at) into v_open, v_first_expiry
      from public.orders o
      where o.scope = 'guest' and lower(o.email) = lower(p_email) and o.status = 'pending'
        and o.checkout_expires_at > v_now;
    end if;
    if v_open >= p_max_per_email then
      return jsonb_build_object('limit', p_max_per_email,
        'per', case when p_user_id is not null then 'user' else 'email' end,
        'retry_after_seconds', greatest(1, ceil(extract(epoch from v_first_expiry - v_now))::integer));
    end if;
  end if;

  if coalesce(p_max_per_ip, 0) > 0 and v_ip is not null and p_scope = 'guest' then
    perform pg_advisory_xact_lock(hashtext('pending_checkouts:ip'), hashtext(host(v_ip)));
    select count(*), min(o.checkout_expires_at) into v_open, v_first_expiry
    from public.orders o
    where o.client_ip = v_ip and o.scope = 'guest' and o.status = 'pending'
      and o.checkout_expires_at > v_now;
    if v_open >= p_max_per_ip then
      return jsonb_build_object('limit', p_max_per_ip, 'per', 'ip',
        'retry_after_seconds', greatest(1, ceil(extract(epoch from v_first_expiry - v_now))::integer));
    end if;
  end if;
  return null;
end;
$$;

drop function public.begin_checkout(text, text, uuid, text, jsonb, text, text, text, uuid, text,
  text, integer, integer);

-- outcome gains too_many_pending_checkouts (details from pending_checkout_limit).
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
  p_lease_seconds integer default 60,
  p_client_ip text default null,
  p_max_pending_per_email integer default 0,
  p_max_pending_per_ip integer default 0
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

  -- Locked: the lock move_order, cancel_checkout and the fenced writes after the Stripe
  -- call take, so an order a concurrent cancel or expiry is closing is seen closed here
  -- and begin claims no Stripe call for it.
  select * into v_order from public.orders o
  where o.scope = p_scope and o.idempotency_key = p_idempotency_key
  for update;

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
    -- The open-checkout limits, checked and held (advisory locks until commit) before
    -- anything is reserved, so a refused request reserves nothing.
    v_details := public.pending_checkout_limit(p_scope, p_email, p_user_id, p_client_ip,
      p_max_pending_per_email, p_max_pending_per_ip);
    if v_details is not null then
      return row('too_many_pending_checkouts', null, null, null, v_details,
        (v_details ->> 'retry_after_seconds')::integer)::public.checkout_begin;
    end if;

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
      promotion_code, checkout_expires_at, client_ip
    ) values (
      p_scope, p_idempotency_key, p_request_fingerprint, p_user_id, p_email, v_currency,
      v_subtotal, v_subtotal, p_success_url, p_cancel_url, p_stripe_customer_id,
      p_promotion_code,
      v_now + make_interval(secs => p_session_ttl_seconds), p_client_ip::inet
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

select private.restrict_to_service_role(
  'public.pending_checkout_limit(text, text, uuid, text, integer, integer)',
  'public.begin_checkout(text, text, uuid, text, jsonb, text, text, text, uuid, text, text, integer, integer, text, integer, integer)'
);
