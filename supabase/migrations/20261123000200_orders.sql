-- Orders and their items. One order per (scope, client key): a duplicate request
-- can never create a second order, whatever the application does.
create table public.orders (
  id uuid primary key default gen_random_uuid(),
  scope text not null check (scope = 'guest' or scope ~ '^user:[0-9a-f-]{36}$'),
  idempotency_key text not null check (length(idempotency_key) between 1 and 255),
  request_fingerprint text not null check (request_fingerprint ~ '^[0-9a-f]{64}$'),
  user_id uuid,
  email text,
  status text not null default 'pending',
  currency text not null check (currency ~ '^[a-z]{3}$'),
  amount_subtotal integer not null check (amount_subtotal > 0),
  amount_total integer not null check (amount_total >= 0),
  success_url text not null,
  cancel_url text not null,
  stripe_customer_id text,
  promotion_code text,
  checkout_session_id text unique,
  checkout_url text,
  checkout_expires_at timestamptz not null,
  payment_intent_id text,
  -- Set once when reserved stock goes back; guards against releasing twice.
  stock_released_at timestamptz,
  needs_review boolean not null default false,
  review_reason text,
  paid_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint orders_scope_key_unique unique (scope, idempotency_key),
  constraint orders_status_known check (
    status in ('pending', 'awaiting_payment', 'paid', 'refunded', 'payment_failed', 'expired', 'failed')
  ),
  constraint orders_user_scope check ((user_id is null) = (scope = 'guest'))
);

create index orders_user_id_idx on public.orders (user_id) where user_id is not null;
create index orders_pending_expiry_idx on public.orders (checkout_expires_at) where status = 'pending';

create table public.order_items (
  order_id uuid not null references public.orders (id) on delete cascade,
  product_id uuid not null references public.products (id),
  name text not null,
  quantity integer not null check (quantity between 1 and 99),
  unit_amount integer not null check (unit_amount > 0),
  primary key (order_id, product_id)
);

alter table public.orders enable row level security;
alter table public.order_items enable row level security;

create policy "users read their own orders" on public.orders
  for select to authenticated
  using (user_id = (select auth.uid()));

create policy "users read their own order items" on public.order_items
  for select to authenticated
  using (exists (
    select 1 from public.orders o where o.id = order_id and o.user_id = (select auth.uid())
  ));

revoke insert, update, delete, truncate on public.orders, public.order_items from anon, authenticated;
revoke all on public.orders, public.order_items from anon;
-- A signed-in user reads their own orders, but not the bookkeeping behind them (keys,
-- fingerprints, review notes): select is granted column by column.
revoke select on public.orders from authenticated;
grant select (
  id, user_id, email, status, currency, amount_subtotal, amount_total, checkout_session_id,
  checkout_url, checkout_expires_at, paid_at, created_at, updated_at
) on public.orders to authenticated;
