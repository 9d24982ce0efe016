/** A shop's outbox receiver for the tests: verifies like a real one and answers as told. */
import { Webhook } from "npm:standardwebhooks@1.1.1";
import type { TestStack } from "./harness.ts";

export interface ReceivedDelivery {
  id: string;
  type: string;
  order_id: string | null;
  data: Record<string, unknown>;
  headers: { id: string; timestamp: string; signature: string };
  /** Did the `standardwebhooks` library accept the signature? */
  verified: boolean;
  status: number;
}

export interface Receiver {
  url: string;
  deliveries: ReceivedDelivery[];
  /** The most deliveries of one message id that were in progress at the same time. */
  maxConcurrentPerId(): number;
  [Symbol.asyncDispose](): Promise<void>;
}

export const RECEIVER_SECRET = "whsec_" + btoa("outbox-test-secret-32-bytes-long!");

/**
 * `answer(n)` is the status for the n-th delivery (1-based) of a message id; `delayMs`
 * holds each answer back, so overlapping deliveries would show.
 */
export function startReceiver(
  options: { answer?: (n: number) => number; delayMs?: number; port?: number } = {},
): Receiver {
  const webhook = new Webhook(RECEIVER_SECRET);
  const deliveries: ReceivedDelivery[] = [];
  const inFlight = new Map<string, number>();
  let maxConcurrent = 0;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 0, onListen: () => {} },
    async (request) => {
      const body = await request.text();
      const id = request.headers.get("webhook-id") ?? "";
      const now = (inFlight.get(id) ?? 0) + 1;
      inFlight.set(id, now);
      maxConcurrent = Math.max(maxConcurrent, now);
      try {
        let verified = true;
        try {
          webhook.verify(body, Object.fromEntries(request.headers));
        } catch {
          verified = false;
        }
        const n = deliveries.filter((d) => d.id === id).length + 1;
        const status = options.answer?.(n) ?? 200;
        const message = JSON.parse(body);
        deliveries.push({
          ...message,
          headers: {
            id,
            timestamp: request.headers.get("webhook-timestamp") ?? "",
            signature: request.headers.get("webhook-signature") ?? "",
          },
          verified,
          status,
        });
        if (options.delayMs) await new Promise((r) => setTimeout(r, options.delayMs));
        return new Response(status === 200 ? "ok" : "receiver says no", { status });
      } finally {
        inFlight.set(id, (inFlight.get(id) ?? 1) - 1);
      }
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/hooks/outbox`,
    deliveries,
    maxConcurrentPerId: () => maxConcurrent,
    [Symbol.asyncDispose]: () => server.shutdown(),
  };
}

/** One outbox-dispatch pass through the gateway, as pg_cron or `deno task outbox` calls it. */
export async function dispatch(stack: TestStack): Promise<Record<string, number | string>> {
  const response = await fetch(`${stack.functionsUrl}/outbox-dispatch`, {
    method: "POST",
    headers: { authorization: `Bearer ${stack.secretKey}`, apikey: stack.secretKey },
  });
  const text = await response.text();
  if (response.status !== 200) {
    throw new Error(`outbox-dispatch answered ${response.status}: ${text}`);
  }
  return JSON.parse(text);
}

/** Queues messages straight into the outbox, as the order lifecycle does. */
export async function enqueueMessages(stack: TestStack, n: number): Promise<string[]> {
  const rows = await stack.sql<{ id: string }[]>`
    insert into public.outbox (topic, dedupe_key, payload)
    select 'order.paid', 'test:' || gen_random_uuid(), jsonb_build_object('n', i)
    from generate_series(1, ${n}) i
    returning id`;
  return rows.map((r) => r.id);
}

export interface OutboxRow {
  id: string;
  message_id: string;
  status: string;
  attempts: number;
  last_error: string | null;
}

export async function outboxRows(stack: TestStack): Promise<OutboxRow[]> {
  return await stack.sql<OutboxRow[]>`
    select id, message_id, status, attempts, last_error from public.outbox order by id`;
}
