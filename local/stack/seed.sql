-- Demo products for the local stack (fixed ids so examples and tests can name them).
insert into public.products (id, name, description, unit_amount, currency, stock, active) values
  ('00000000-0000-4000-8000-000000000001', 'Espresso beans 1 kg', 'Dark roast, whole bean', 2400, 'usd', 100, true),
  ('00000000-0000-4000-8000-000000000002', 'Pour-over kettle', 'Gooseneck, 1 litre', 5900, 'usd', 10, true),
  ('00000000-0000-4000-8000-000000000003', 'Paper filters (100)', 'Size 02', 600, 'usd', null, true),
  ('00000000-0000-4000-8000-000000000004', 'Ceramic dripper', 'Limited run', 3200, 'usd', 3, true),
  ('00000000-0000-4000-8000-000000000005', 'Grinder (retired)', 'No longer sold', 12900, 'usd', 0, false),
  ('00000000-0000-4000-8000-000000000006', 'Filterkaffee 500 g', 'Sold in euros', 1300, 'eur', 50, true)
on conflict (id) do nothing;
