-- An order's stock reservation: taken by begin_checkout, given back here exactly once
-- (stock_released_at is the guard) when the order fails, expires or its payment fails.
create or replace function public.release_order_stock(p_order_id uuid)
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

select private.restrict_to_service_role('public.release_order_stock(uuid)');
