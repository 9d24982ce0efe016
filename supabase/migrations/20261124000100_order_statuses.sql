-- The one list of order statuses. The orders table and the state machine's
-- transitions each carried their own copy in a check constraint; both now refer to
-- this table, so a new status is one insert here (plus its transitions).
create table public.order_statuses (
  status text primary key
);

insert into public.order_statuses (status) values
  ('pending'), ('awaiting_payment'), ('paid'), ('refunded'), ('payment_failed'), ('expired'),
  ('failed');

alter table public.order_statuses enable row level security;
revoke all on public.order_statuses from anon, authenticated;

alter table public.orders
  drop constraint orders_status_known,
  add constraint orders_status_known foreign key (status) references public.order_statuses (status);

alter table public.order_status_transitions
  drop constraint order_status_transitions_known,
  add constraint order_status_transitions_from_known
    foreign key (from_status) references public.order_statuses (status),
  add constraint order_status_transitions_to_known
    foreign key (to_status) references public.order_statuses (status),
  add constraint order_status_transitions_moves check (from_status <> to_status);
