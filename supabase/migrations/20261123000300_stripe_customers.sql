-- One Stripe Customer per user, at most: both columns are unique.
create table public.stripe_customers (
  user_id uuid primary key,
  stripe_customer_id text not null unique check (stripe_customer_id ~ '^cus_'),
  created_at timestamptz not null default now()
);

alter table public.stripe_customers enable row level security;
revoke all on public.stripe_customers from anon, authenticated;
