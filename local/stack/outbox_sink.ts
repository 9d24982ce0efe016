/**
 * The local stack's outbox receiver (README "The outbox"), at `/_sink/outbox` on the
 * gateway: the default OUTBOX_WEBHOOK_URL of the stack. It verifies each delivery's
 * Standard Webhooks signature with the `standardwebhooks` library, as a shop's receiver
 * would, keeps each message once (by its id, however often it arrives) and lists them:
 * the demo shows them as the shop's "sent e-mails".
 *
 *   POST   /_sink/outbox   a signed delivery → 204, or 400 when the signature is bad
 *   GET    /_sink/outbox   {messages: [...newest first], deliveries, rejected}
 *   DELETE /_sink/outbox   forget everything
 */
import { Webhook } from "npm:standardwebhooks@1.1.1";

export const OUTBOX_SINK_PATH = "/_sink/outbox";

export interface SunkMessage {
  id: string;
  type: string;
  order_id: string | null;
  created_at: string;
  data: unknown;
  received_at: string;
  /** How many deliveries of this id arrived (receivers must expect more than one). */
  deliveries: number;
}

export interface OutboxSink {
  secret: string;
  handle(request: Request): Promise<Response | undefined>;
  messages(): SunkMessage[];
}

export function freshOutboxSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes))}`;
}

export function createOutboxSink(secret: string): OutboxSink {
  const webhook = new Webhook(secret);
  const byId = new Map<string, SunkMessage>();
  let deliveries = 0;
  let rejected = 0;

  async function handle(request: Request): Promise<Response | undefined> {
    if (new URL(request.url).pathname !== OUTBOX_SINK_PATH) return undefined;
    if (request.method === "GET") {
      const messages = [...byId.values()].reverse();
      return Response.json({ messages, deliveries, rejected }, {
        headers: { "cache-control": "no-store" },
      });
    }
    if (request.method === "DELETE") {
      byId.clear();
      deliveries = rejected = 0;
      return new Response(null, { status: 204 });
    }
    if (request.method !== "POST") return new Response(null, { status: 405 });
    const body = await request.text();
    let message: Omit<SunkMessage, "received_at" | "deliveries">;
    try {
      message = webhook.verify(body, Object.fromEntries(request.headers)) as typeof message;
    } catch (error) {
      rejected++;
      return Response.json({ error: String(error) }, { status: 400 });
    }
    deliveries++;
    const seen = byId.get(message.id);
    if (seen) seen.deliveries++;
    else byId.set(message.id, { ...message, received_at: new Date().toISOString(), deliveries: 1 });
    return new Response(null, { status: 204 });
  }

  return { secret, handle, messages: () => [...byId.values()] };
}
