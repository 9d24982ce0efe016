-- Scheduling outbox-dispatch (every minute) and stripe-reconcile (every 5 minutes) the
-- Supabase way (README "Scheduling on Supabase"): pg_cron runs a statement that calls the
-- function over HTTP with pg_net. The project URL and a secret key come from Supabase
-- Vault at run time, never from this file:
--   select vault.create_secret('https://<project-ref>.supabase.co', 'project_url');
--   select vault.create_secret('<sb_secret_… key>', 'edge_functions_secret_key');
-- On plain Postgres (no pg_cron or pg_net: the local stack, the tests) nothing is
-- scheduled; the local stack runs both functions on an interval instead.

-- Calls one edge function with POST and the Vault's secret key; returns pg_net's request
-- id (the answer lands in net._http_response). Missing secrets fail the cron run with a
-- message that names them (cron.job_run_details shows it).
create function private.invoke_edge_function(
  p_function text,
  p_timeout_milliseconds integer default 120000
)
returns bigint
language plpgsql
volatile
set search_path = ''
as $$
declare
  v_url text;
  v_key text;
begin
  select s.decrypted_secret into v_url from vault.decrypted_secrets s where s.name = 'project_url';
  select s.decrypted_secret into v_key from vault.decrypted_secrets s
  where s.name = 'edge_functions_secret_key';
  if v_url is null or v_key is null then
    raise exception 'cannot call edge function %: create the Vault secrets project_url and edge_functions_secret_key (README, Scheduling on Supabase)',
      p_function using errcode = '22023';
  end if;
  return net.http_post(
    url := rtrim(v_url, '/') || '/functions/v1/' || p_function,
    body := '{}'::jsonb,
    headers := jsonb_build_object(
      'content-type', 'application/json',
      'apikey', v_key,
      'authorization', 'Bearer ' || v_key),
    timeout_milliseconds := p_timeout_milliseconds
  );
end;
$$;

-- The two jobs; cron.schedule replaces a job of the same name, so this may run again.
create function private.schedule_edge_functions()
returns void
language plpgsql
volatile
set search_path = ''
as $$
begin
  perform cron.schedule('outbox-dispatch', '* * * * *',
    $cmd$select private.invoke_edge_function('outbox-dispatch')$cmd$);
  perform cron.schedule('stripe-reconcile', '*/5 * * * *',
    $cmd$select private.invoke_edge_function('stripe-reconcile')$cmd$);
end;
$$;

revoke execute on function private.invoke_edge_function(text, integer) from public, anon, authenticated, service_role;
revoke execute on function private.schedule_edge_functions() from public, anon, authenticated, service_role;

do $$
begin
  if not exists (select 1 from pg_available_extensions where name = 'pg_cron')
     or not exists (select 1 from pg_available_extensions where name = 'pg_net') then
    raise notice 'pg_cron or pg_net is not available: outbox-dispatch and stripe-reconcile are not scheduled (run them yourself, README)';
    return;
  end if;
  begin
    create extension if not exists pg_cron;
    create extension if not exists pg_net;
  exception when others then
    -- The packages are installed but not loaded (e.g. pg_cron missing from
    -- shared_preload_libraries): a plain Postgres, not a Supabase project.
    raise notice 'pg_cron or pg_net is not usable here (%): outbox-dispatch and stripe-reconcile are not scheduled',
      sqlerrm;
    return;
  end;
  -- Where the extensions work, a failure to schedule must stop the migration: a notice
  -- nobody reads would leave the outbox undelivered.
  perform private.schedule_edge_functions();
end;
$$;
