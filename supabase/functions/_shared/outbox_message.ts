/**
 * One outbox message on the wire (README "The outbox"): the JSON body receivers get and
 * its Standard Webhooks signature (`webhook-id`, `webhook-timestamp`, `webhook-signature`),
 * made with the `standardwebhooks` library so that receivers can verify with it too.
 */
import { Webhook } from "npm:standardwebhooks@1.1.1";

/** What outbox-dispatch needs of a claimed `public.outbox` row. */
export interface OutboxRow {
  message_id: string;
  topic: string;
  order_id: string | null;
  created_at: string;
  payload: unknown;
}

export interface OutboxMessage {
  /** The same on every attempt: receivers deduplicate by it. */
  id: string;
  /** The outbox topic: order.paid, order.expired, order.needs_review, … */
  type: string;
  order_id: string | null;
  created_at: string;
  data: unknown;
}

export function outboxMessage(row: OutboxRow): OutboxMessage {
  return {
    id: row.message_id,
    type: row.topic,
    order_id: row.order_id,
    created_at: new Date(row.created_at).toISOString(),
    data: row.payload,
  };
}

/** The body and headers of one delivery attempt, signed at `at`. */
export function signedDelivery(
  message: OutboxMessage,
  secret: string,
  at: Date,
): { body: string; headers: Headers } {
  const body = JSON.stringify(message);
  const signature = new Webhook(secret).sign(message.id, at, body);
  return {
    body,
    headers: new Headers({
      "content-type": "application/json",
      "user-agent": "idempotent-checkout-outbox/1",
      "webhook-id": message.id,
      "webhook-timestamp": String(Math.floor(at.getTime() / 1000)),
      "webhook-signature": signature,
    }),
  };
}
