-- Refunds and disputes: the schema. One row per refund in public.refunds, whoever made
-- it (refund-order, or the Stripe Dashboard, learnt from webhooks); the order gains the
-- status partially_refunded (paid → partially_refunded → refunded, forward only) and a
-- dispute flag that is recorded beside its status, never as a move backwards.

insert into public.order_statuses (status) values ('partially_refunded');

insert into public.order_status_transitions (from_status, to_status, releases_stock) values
  ('paid', 'partially_refunded', false),
  ('partially_refunded', 'refunded', false);

alter table public.orders
  -- The highest amount_refunded a charge event ever reported. Stripe's running total
  -- goes down again when a refund fails and arrives out of order, so it only ever
  -- lifts what the refunds rows show (events without a refund list), never lowers it.
  add column max_charge_amount_refunded bigint not null default 0
    check (max_charge_amount_refunded >= 0),
  add column dispute_id text check (dispute_id ~ '^[A-Za-z0-9_]{1,255}$'),
  add column dispute_reason text check (length(dispute_reason) <= 100),
  add column dispute_status text check (length(dispute_status) <= 100),
  add column dispute_amount bigint,
  -- won | lost once charge.dispute.closed arrived; null while the dispute is open.
  add column dispute_outcome text check (dispute_outcome in ('won', 'lost')),
  add column disputed_at timestamptz,
  add column dispute_closed_at timestamptz,
  add constraint orders_dispute_complete check (
    (dispute_id is null) = (disputed_at is null)
    and (dispute_outcome is null or dispute_id is not null)
    and (dispute_outcome is null) = (dispute_closed_at is null)
  );

-- Refund and dispute events find their order by payment intent when they carry no
-- order metadata (a Dashboard refund, every dispute).
create index orders_payment_intent_id_idx on public.orders (payment_intent_id)
  where payment_intent_id is not null;
create index orders_disputed_idx on public.orders (disputed_at) where dispute_id is not null;

create table public.refunds (
  id uuid primary key default gen_random_uuid(),
  order_id uuid not null references public.orders (id) on delete cascade,
  -- Null only while a refund-order request waits for Stripe's answer (the amount is
  -- reserved meanwhile), or when Stripe rejected the request (status failed).
  stripe_refund_id text unique check (stripe_refund_id ~ '^[A-Za-z0-9_]{1,255}$'),
  amount bigint not null check (amount > 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  status text not null
    check (status in ('pending', 'requires_action', 'succeeded', 'failed', 'canceled')),
  reason text check (length(reason) <= 100),
  failure_reason text check (length(failure_reason) <= 2000),
  -- The refund-order request that made it (scope and Idempotency-Key) and its Stripe
  -- operation ('refund:create', stripe_operation_id); all null for a refund made
  -- elsewhere (the Stripe Dashboard) that a webhook told us about.
  created_by_scope text,
  created_by_key text,
  request_fingerprint text,
  stripe_operation_id text,
  last_error jsonb,
  -- Set the first time Stripe reports the refund succeeded, and never cleared: the
  -- order's refund status counts it even if the refund fails later (forward only).
  succeeded_at timestamptz,
  failed_at timestamptz,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now(),
  constraint refunds_request_unique unique (created_by_scope, created_by_key),
  constraint refunds_request_complete check (
    (created_by_scope is null) = (created_by_key is null)
    and (created_by_key is null) = (stripe_operation_id is null)
    and (created_by_key is null) = (request_fingerprint is null)
  ),
  constraint refunds_has_origin check (stripe_refund_id is not null or created_by_key is not null)
);

create index refunds_order_id_idx on public.refunds (order_id);
create index refunds_failed_idx on public.refunds (updated_at) where status = 'failed';
create index refunds_unanswered_idx on public.refunds (created_at)
  where stripe_refund_id is null and status = 'pending';

alter table public.refunds enable row level security;
revoke all on public.refunds from anon, authenticated;
