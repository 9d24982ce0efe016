-- The SQL functions of this project are for service_role (the edge functions) unless a
-- migration grants more. Postgres grants EXECUTE on new functions to PUBLIC, and
-- Supabase's default privileges grant it to anon and authenticated as well; every
-- migration takes both back through this one helper. It lives outside the API schema,
-- so PostgREST never exposes it, and only the migration role may call it.
create schema if not exists private;
revoke all on schema private from public;

create function private.restrict_to_service_role(variadic p_functions regprocedure[])
returns void
language plpgsql
set search_path = ''
as $$
declare
  v_fn regprocedure;
begin
  foreach v_fn in array p_functions loop
    execute format('revoke execute on function %s from public, anon, authenticated', v_fn);
    execute format('grant execute on function %s to service_role', v_fn);
  end loop;
end;
$$;

revoke execute on function private.restrict_to_service_role(regprocedure[])
  from public, anon, authenticated, service_role;
