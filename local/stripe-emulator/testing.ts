/** Helpers for tests that run against the emulator: a webhook receiver on a free port. */

export interface ReceivedWebhook {
  body: string;
  signature: string | null;
  status: number;
}

export interface WebhookReceiver {
  url: string;
  received: ReceivedWebhook[];
  /** Resolves once `count` deliveries have been answered. */
  waitFor(count: number, timeoutMs?: number): Promise<ReceivedWebhook[]>;
  stop(): Promise<void>;
}

/**
 * Starts a receiver; `answer` decides each status (it sees the raw body and the
 * `Stripe-Signature` header, and the number of deliveries before this one).
 */
export function startWebhookReceiver(
  answer: (body: string, signature: string | null, index: number) => number | Promise<number> =
    () => 200,
): WebhookReceiver {
  const received: ReceivedWebhook[] = [];
  const waiters: { count: number; resolve: () => void }[] = [];
  const server = Deno.serve(
    { port: 0, hostname: "127.0.0.1", onListen: () => {} },
    async (request) => {
      const body = await request.text();
      const signature = request.headers.get("stripe-signature");
      const status = await answer(body, signature, received.length);
      received.push({ body, signature, status });
      for (const waiter of waiters.filter((w) => received.length >= w.count)) {
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
      return new Response(status < 300 ? '{"received":true}' : '{"error":"nope"}', { status });
    },
  );
  return {
    url: `http://127.0.0.1:${server.addr.port}/webhook`,
    received,
    waitFor(count, timeoutMs = 10_000) {
      if (received.length >= count) return Promise.resolve(received);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () => reject(new Error(`expected ${count} webhook deliveries, got ${received.length}`)),
          timeoutMs,
        );
        waiters.push({
          count,
          resolve: () => {
            clearTimeout(timer);
            resolve(received);
          },
        });
      });
    },
    stop: () => server.shutdown(),
  };
}
