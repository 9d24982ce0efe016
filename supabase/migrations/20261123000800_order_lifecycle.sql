-- The order state machine (SPEC §5), forward only, held by the database itself: a
-- trigger refuses every status change that is not a row of order_status_transitions,
-- whichever function (checkout, cleanup, webhook) attempts it. Out-of-order webhooks
-- therefore cannot move an order backwards even if a function forgot to check.
create table public.order_status_transitions (
  from_status text not null,
  to_status text not null,
  -- Moving to one of these gives the reserved stock back (exactly once: release_order_stock).
  releases_stock boolean not null default false,
  primary key (from_status, to_status),
  constraint order_status_transitions_known check (
    from_status in ('pending', 'awaiting_payment', 'paid', 'refunded', 'payment_failed', 'expired', 'failed')
    and to_status in ('pending', 'awaiting_payment', 'paid', 'refunded', 'payment_failed', 'expired', 'failed')
    and from_status <> to_status
  )
);

insert into public.order_status_transitions (from_status, to_status, releases_stock) values
  ('pending', 'awaiting_payment', false),
  ('pending', 'paid', false),
  ('awaiting_payment', 'paid', false),
  ('paid', 'refunded', false),
  ('pending', 'payment_failed', true),
  ('awaiting_payment', 'payment_failed', true),
  ('pending', 'expired', true),
  ('awaiting_payment', 'expired', true),
  -- The checkout could not be created (Stripe rejected it): terminal, like expired.
  ('pending', 'failed', true);

alter table public.order_status_transitions enable row level security;
revoke all on public.order_status_transitions from anon, authenticated;

create function public.order_transition_allowed(p_from text, p_to text)
returns boolean
language sql
stable
set search_path = ''
as $$
  select exists (
    select 1 from public.order_status_transitions t
    where t.from_status = p_from and t.to_status = p_to
  );
$$;

create function public.orders_forward_only()
returns trigger
language plpgsql
set search_path = ''
as $$
begin
  if new.status is distinct from old.status
     and not public.order_transition_allowed(old.status, new.status) then
    raise exception 'order % cannot move from % to %', old.id, old.status, new.status
      using errcode = '23514'; -- check_violation: the state machine is a constraint
  end if;
  return new;
end;
$$;

create trigger orders_forward_only
  before update of status on public.orders
  for each row execute function public.orders_forward_only();

select private.restrict_to_service_role(
  'public.order_transition_allowed(text, text)',
  'public.orders_forward_only()'
);
