-- The demo's success page knows only the Checkout Session id (Stripe puts it in the
-- success_url). This reveals that order's status and nothing else, to anyone holding
-- the id: session ids are unguessable, and the status carries no personal data.
create function public.order_status_by_session(p_session_id text)
returns text
language sql
stable
security definer
set search_path = ''
as $$
  select o.status from public.orders o
  where p_session_id ~ '^cs_[A-Za-z0-9_]{1,250}$' and o.checkout_session_id = p_session_id;
$$;

revoke execute on function public.order_status_by_session(text) from public;
grant execute on function public.order_status_by_session(text) to anon, authenticated, service_role;
