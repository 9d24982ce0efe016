-- Every Stripe event we received (SPEC §5, §6), one row per event id: the unique
-- stripe_event_id is what makes an event's effect happen once however often Stripe
-- delivers it. Rows are written only by public.apply_stripe_event.
create table public.stripe_webhook_events (
  id bigint generated always as identity primary key,
  stripe_event_id text not null unique check (stripe_event_id ~ '^evt_[A-Za-z0-9_]+$'),
  type text not null check (length(type) between 1 and 200),
  livemode boolean not null,
  api_version text,
  event_created timestamptz not null,
  payload jsonb not null,
  -- processing: only ever seen inside the applying transaction;
  -- processed: its effect is committed (a transition, a review flag, or nothing because
  --   the order is already at or past that state);
  -- ignored: not ours (unknown type, no such order, a session the order does not use);
  -- deferred: a refund that arrived before its payment, applied when the payment lands;
  -- failed: the effect raised and was rolled back; the next delivery tries again.
  status text not null check (status in ('processing', 'processed', 'ignored', 'deferred', 'failed')),
  attempts integer not null default 0 check (attempts >= 0),
  last_error text,
  order_id uuid references public.orders (id) on delete set null,
  -- What the effect did, in words, for operators (e.g. "pending -> paid").
  result text,
  received_at timestamptz not null default now(),
  processed_at timestamptz,
  updated_at timestamptz not null default now(),
  constraint stripe_webhook_events_processed_at check (
    (status in ('processed', 'ignored')) = (processed_at is not null)
  ),
  constraint stripe_webhook_events_failed_has_error check (
    status <> 'failed' or last_error is not null
  )
);

create index stripe_webhook_events_failed_idx on public.stripe_webhook_events (attempts desc)
  where status = 'failed';
create index stripe_webhook_events_deferred_idx on public.stripe_webhook_events (order_id)
  where status = 'deferred';

alter table public.stripe_webhook_events enable row level security;
revoke all on public.stripe_webhook_events from anon, authenticated;
