-- What an operator has to look at (local/ops.ts prints it): events whose effect keeps
-- failing, refunds still waiting for their payment, orders flagged for review, and
-- outbox messages that gave up. Service role only.
create function public.webhook_ops_report(p_min_attempts integer default 2, p_limit integer default 100)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'failing_events', coalesce((
      select jsonb_agg(to_jsonb(f) order by f.attempts desc, f.received_at) from (
        select e.stripe_event_id, e.type, e.attempts, e.last_error, e.received_at, e.updated_at,
               e.payload -> 'data' -> 'object' ->> 'id' as object_id
        from public.stripe_webhook_events e
        where e.status = 'failed' and e.attempts >= p_min_attempts
        order by e.attempts desc, e.received_at
        limit p_limit
      ) f), '[]'::jsonb),
    'deferred_events', coalesce((
      select jsonb_agg(to_jsonb(d) order by d.received_at) from (
        select e.stripe_event_id, e.type, e.order_id, e.result, e.received_at
        from public.stripe_webhook_events e
        where e.status = 'deferred'
        order by e.received_at
        limit p_limit
      ) d), '[]'::jsonb),
    'orders_needing_review', coalesce((
      select jsonb_agg(to_jsonb(r) order by r.updated_at desc) from (
        select o.id as order_id, o.status, o.review_reason, o.amount_total, o.currency,
               o.checkout_session_id, o.payment_intent_id, o.email, o.updated_at
        from public.orders o
        where o.needs_review
        order by o.updated_at desc
        limit p_limit
      ) r), '[]'::jsonb),
    'dead_outbox_messages', coalesce((
      select jsonb_agg(to_jsonb(m) order by m.created_at) from (
        select x.id, x.topic, x.order_id, x.attempts, x.last_error, x.created_at
        from public.outbox x
        where x.status = 'dead'
        order by x.created_at
        limit p_limit
      ) m), '[]'::jsonb)
  );
$$;

select private.restrict_to_service_role(
  'public.webhook_ops_report(integer, integer)'
);
