-- Products: the only source of prices, names and currencies (never the client).
create table public.products (
  id uuid primary key default gen_random_uuid(),
  name text not null check (length(name) between 1 and 250),
  description text,
  unit_amount integer not null check (unit_amount > 0),
  currency text not null check (currency ~ '^[a-z]{3}$'),
  -- null means unlimited; the check makes an oversold product unrepresentable.
  stock integer check (stock is null or stock >= 0),
  active boolean not null default true,
  image_url text,
  created_at timestamptz not null default now(),
  updated_at timestamptz not null default now()
);

alter table public.products enable row level security;

create policy "anyone reads active products" on public.products
  for select to anon, authenticated
  using (active);

revoke insert, update, delete, truncate on public.products from anon, authenticated;

-- The storefront's product list, readable with the anon key.
create function public.list_active_products()
returns table (
  id uuid,
  name text,
  description text,
  unit_amount integer,
  currency text,
  stock integer,
  image_url text
)
language sql
stable
security invoker
set search_path = ''
as $$
  select p.id, p.name, p.description, p.unit_amount, p.currency, p.stock, p.image_url
  from public.products p
  where p.active
  order by p.name, p.id;
$$;

revoke execute on function public.list_active_products() from public;
grant execute on function public.list_active_products() to anon, authenticated, service_role;
