-- What an operator has to look at about money going back (local/tools/ops.ts prints
-- it beside webhook_ops_report): open or recently closed disputes, refunds that failed
-- recently (at Stripe, or rejected by it), and refund-order requests still waiting for
-- Stripe's answer (their amount stays reserved until a retry with the same
-- Idempotency-Key, or the refund's webhook, settles them). Service role only.
create function public.payments_ops_report(
  p_days integer default 30,
  p_unanswered_minutes integer default 10,
  p_limit integer default 100
)
returns jsonb
language sql
stable
set search_path = ''
as $$
  select jsonb_build_object(
    'disputed_orders', coalesce((
      select jsonb_agg(to_jsonb(d) order by d.disputed_at desc) from (
        select o.id as order_id, o.status, o.dispute_id, o.dispute_reason, o.dispute_status,
               o.dispute_outcome, o.dispute_amount, o.currency, o.payment_intent_id, o.email,
               o.disputed_at, o.dispute_closed_at
        from public.orders o
        where o.dispute_id is not null
          and (o.dispute_outcome is null
            or o.dispute_closed_at > now() - make_interval(days => p_days))
        order by o.disputed_at desc
        limit p_limit
      ) d), '[]'::jsonb),
    'failed_refunds', coalesce((
      select jsonb_agg(to_jsonb(f) order by f.failed_at desc) from (
        select r.id as refund_request_id, r.stripe_refund_id, r.order_id, o.status as order_status,
               r.amount, r.currency, r.failure_reason, r.created_by_key, r.failed_at,
               public.order_refundable_amount(r.order_id) as refundable
        from public.refunds r join public.orders o on o.id = r.order_id
        where r.status = 'failed' and r.failed_at > now() - make_interval(days => p_days)
        order by r.failed_at desc
        limit p_limit
      ) f), '[]'::jsonb),
    'unanswered_refunds', coalesce((
      select jsonb_agg(to_jsonb(u) order by u.created_at) from (
        select r.id as refund_request_id, r.order_id, r.amount, r.currency, r.created_by_key,
               r.last_error, r.created_at
        from public.refunds r
        where r.stripe_refund_id is null and r.status = 'pending'
          and r.created_at < now() - make_interval(mins => p_unanswered_minutes)
        order by r.created_at
        limit p_limit
      ) u), '[]'::jsonb)
  );
$$;

select private.restrict_to_service_role(
  'public.payments_ops_report(integer, integer, integer)'
);
