-- What a hosted Supabase database already has and vanilla Postgres lacks, so migrations and
-- RPCs behave the same locally. Every piece is created only where missing: applied to a real
-- Supabase database it changes nothing. This is NOT a migration; local/database.ts runs it
-- before `supabase migration up`.

do $bootstrap$
begin
  if not exists (select from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
  if not exists (select from pg_roles where rolname = 'authenticator') then
    create role authenticator login noinherit;
  end if;
end
$bootstrap$;

create schema if not exists extensions;
create schema if not exists auth;

do $auth_objects$
begin
  if to_regclass('auth.users') is null then
    -- Only what foreign keys and joins from our migrations need; GoTrue owns the real one.
    create table auth.users (
      id uuid primary key,
      email text
    );
  end if;

  -- Same bodies as Supabase's: the legacy per-claim settings still win when set.
  if to_regprocedure('auth.uid()') is null then
    create function auth.uid() returns uuid
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.sub', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub')
      )::uuid
    $fn$;
  end if;
  if to_regprocedure('auth.role()') is null then
    create function auth.role() returns text
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.role', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'role')
      )::text
    $fn$;
  end if;
  if to_regprocedure('auth.email()') is null then
    create function auth.email() returns text
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim.email', true), ''),
        (nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'email')
      )::text
    $fn$;
  end if;
  if to_regprocedure('auth.jwt()') is null then
    create function auth.jwt() returns jsonb
    language sql stable
    as $fn$
      select coalesce(
        nullif(current_setting('request.jwt.claim', true), ''),
        nullif(current_setting('request.jwt.claims', true), '')
      )::jsonb
    $fn$;
  end if;
end
$auth_objects$;

-- Grants only where missing: on hosted Supabase the owner of `auth` is not the migration
-- user, so an unconditional grant there would fail although nothing is missing.
do $grants$
declare
  api_role text;
  schema_name text;
begin
  foreach api_role in array array['anon', 'authenticated', 'service_role'] loop
    -- PostgREST connects as authenticator and switches to the role named in the JWT.
    if not pg_has_role('authenticator', api_role, 'member') then
      execute format('grant %I to authenticator', api_role);
    end if;
    foreach schema_name in array array['public', 'auth', 'extensions'] loop
      if not has_schema_privilege(api_role, schema_name, 'usage') then
        execute format('grant usage on schema %I to %I', schema_name, api_role);
      end if;
    end loop;
  end loop;
end
$grants$;

-- Supabase's default privileges: whatever the migration owner creates in public is granted
-- to the API roles, so (as on hosted Supabase) RLS policies and explicit revokes in our
-- migrations are what protect data, not a missing grant that only exists locally.
alter default privileges in schema public
  grant all on tables to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on sequences to anon, authenticated, service_role;
alter default privileges in schema public
  grant all on functions to anon, authenticated, service_role;
