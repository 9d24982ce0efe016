/** Refund and dispute objects as Stripe puts them in events, and what the database holds. */
import type postgres from "npm:postgres@3.4.9";
import { answerOf, BEANS, type CheckoutAnswer, emulator, waitUntil } from "./checkout_helpers.ts";
import type { TestStack } from "./harness.ts";
import { guestCheckout, orderState, submitHostedPage } from "./webhook_helpers.ts";

export type RefundStatus = "pending" | "requires_action" | "succeeded" | "failed" | "canceled";

/** A refund object; without `orderId` it carries no metadata, as one made in the Dashboard. */
export function refundObject(
  id: string,
  paymentIntent: string,
  amount: number,
  status: RefundStatus,
  options: { orderId?: string; requestId?: string; failureReason?: string } = {},
): Record<string, unknown> {
  const metadata: Record<string, string> = {};
  if (options.orderId) metadata.order_id = options.orderId;
  if (options.requestId) metadata.refund_request_id = options.requestId;
  return {
    id,
    object: "refund",
    amount,
    charge: `ch_${paymentIntent.slice(3)}`,
    currency: "usd",
    payment_intent: paymentIntent,
    metadata,
    reason: null,
    status,
    ...(status === "failed"
      ? { failure_reason: options.failureReason ?? "expired_or_canceled_card" }
      : {}),
  };
}

/** A dispute object: Stripe gives it no metadata, only the charge and payment intent. */
export function disputeObject(
  id: string,
  paymentIntent: string,
  amount: number,
  status: "needs_response" | "under_review" | "won" | "lost" | "warning_closed",
  reason = "fraudulent",
): Record<string, unknown> {
  return {
    id,
    object: "dispute",
    amount,
    charge: `ch_${paymentIntent.slice(3)}`,
    currency: "usd",
    payment_intent: paymentIntent,
    reason,
    status,
  };
}

export interface RefundRow {
  stripe_refund_id: string | null;
  amount: number;
  status: string;
  succeeded: boolean;
  from_request: boolean;
}

export async function refundRows(sql: postgres.Sql, orderId: string): Promise<RefundRow[]> {
  return await sql<RefundRow[]>`
    select stripe_refund_id, amount::int as amount, status, succeeded_at is not null as succeeded,
      created_by_key is not null as from_request
    from public.refunds where order_id = ${orderId} order by stripe_refund_id nulls last, created_at`;
}

export interface DisputeState {
  dispute_id: string | null;
  dispute_reason: string | null;
  dispute_status: string | null;
  dispute_outcome: string | null;
}

export async function disputeState(sql: postgres.Sql, orderId: string): Promise<DisputeState> {
  const [row] = await sql<DisputeState[]>`
    select dispute_id, dispute_reason, dispute_status, dispute_outcome
    from public.orders where id = ${orderId}`;
  if (!row) throw new Error(`no order ${orderId}`);
  return row;
}

export async function refundableAmount(sql: postgres.Sql, orderId: string): Promise<number> {
  const [row] = await sql<{ refundable: number }[]>`
    select public.order_refundable_amount(${orderId})::int as refundable`;
  if (!row) throw new Error(`no order ${orderId}`);
  return row.refundable;
}

export interface PaymentsOpsReport {
  disputed_orders: { order_id: string; dispute_id: string; dispute_outcome: string | null }[];
  failed_refunds: { order_id: string; stripe_refund_id: string | null; refundable: number }[];
  unanswered_refunds: { order_id: string; refund_request_id: string }[];
}

export async function paymentsOpsReport(sql: postgres.Sql): Promise<PaymentsOpsReport> {
  const [row] = await sql<{ report: PaymentsOpsReport }[]>`
    select public.payments_ops_report() as report`;
  if (!row) throw new Error("no report");
  return row.report;
}

export interface RefundCall {
  key?: string | null;
  body: unknown;
  /** The `apikey` header; default the stack's legacy service_role key. null sends none. */
  apikey?: string | null;
  authorization?: string;
}

export type RefundAnswer = CheckoutAnswer;

/** One real HTTP request to refund-order through the gateway. */
export async function callRefund(
  stack: { functionsUrl: string; serviceRoleKey: string },
  call: RefundCall,
): Promise<RefundAnswer> {
  const headers = new Headers({ "content-type": "application/json" });
  if (call.key !== null) headers.set("idempotency-key", call.key ?? crypto.randomUUID());
  const apikey = call.apikey === undefined ? stack.serviceRoleKey : call.apikey;
  if (apikey !== null) headers.set("apikey", apikey);
  if (call.authorization) headers.set("authorization", call.authorization);
  return answerOf(
    await fetch(`${stack.functionsUrl}/refund-order`, {
      method: "POST",
      headers,
      body: typeof call.body === "string" ? call.body : JSON.stringify(call.body),
    }),
  );
}

export function errorCode(answer: RefundAnswer): string | undefined {
  return (answer.json.error as { code?: string } | undefined)?.code;
}

/** A guest order for `quantity` bags of beans, paid on the hosted page, its webhooks applied. */
export async function paidOrder(stack: TestStack, quantity = 1) {
  const checkout = await guestCheckout(stack, [{ product_id: BEANS, quantity }]);
  await submitHostedPage(checkout.checkout_url, "pay");
  await emulator(stack).waitForDeliveries();
  await waitUntil(
    "the order is paid",
    async () => (await orderState(stack.sql, checkout.order_id)).status === "paid",
  );
  const { payment_intent_id } = await orderState(stack.sql, checkout.order_id);
  if (!payment_intent_id) throw new Error("paid without a payment intent");
  return { ...checkout, payment_intent_id };
}
