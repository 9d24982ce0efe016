-- The fenced writes of request-level idempotency (README: "Request idempotency") say
-- why they changed nothing: 'ok', or 'lease_lost' when the caller no longer holds the
-- key's lease (it was taken over, or the key was settled meanwhile).
drop function public.complete_idempotency_key(text, text, uuid, integer, jsonb);
drop function public.release_idempotency_key(text, text, uuid);

-- Store the final response. Only the current lease holder may.
create function public.complete_idempotency_key(
  p_scope text,
  p_key text,
  p_lease_token uuid,
  p_response_status integer,
  p_response_body jsonb
)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.idempotency_keys k
  set status = 'completed', lease_token = null, locked_until = null,
      response_status = p_response_status, response_body = p_response_body,
      updated_at = clock_timestamp()
  where k.scope = p_scope and k.key = p_key
    and k.status = 'in_progress' and k.lease_token = p_lease_token;
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

-- Give up the lease without storing anything (5xx outcomes): the next retry runs again.
create function public.release_idempotency_key(p_scope text, p_key text, p_lease_token uuid)
returns text
language plpgsql
volatile
set search_path = ''
as $$
begin
  update public.idempotency_keys k
  set status = 'released', lease_token = null, locked_until = null, updated_at = clock_timestamp()
  where k.scope = p_scope and k.key = p_key
    and k.status = 'in_progress' and k.lease_token = p_lease_token;
  return case when found then 'ok' else 'lease_lost' end;
end;
$$;

select private.restrict_to_service_role(
  'public.complete_idempotency_key(text, text, uuid, integer, jsonb)',
  'public.release_idempotency_key(text, text, uuid)'
);
