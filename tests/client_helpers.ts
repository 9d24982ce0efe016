/** What the browser-client tests share: a scripted HTTP server and injectable options. */
import { createMemoryStorage, fetchTransport } from "../client/mod.js";

/**
 * A real HTTP server on a free port answering a script, one step per request. Raw TCP, not
 * Deno.serve, so a step can drop the connection without any answer: the case a browser sees
 * when the network fails after the server acted.
 */
export type Step =
  | { status: number; body?: unknown; headers?: Record<string, string> }
  | "drop";

export interface SeenRequest {
  path: string;
  headers: Headers;
  body: unknown;
}

export function scriptedServer(script: Step[]) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: SeenRequest[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      const step = script.shift() ?? { status: 500, body: { error: { code: "script_ended" } } };
      await answer(conn, step, seen).catch(() => {});
    }
  })();
  const url = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  return {
    url,
    functionsUrl: `${url}/functions/v1`,
    seen,
    keys: () => seen.map((request) => request.headers.get("idempotency-key")),
    async [Symbol.asyncDispose]() {
      listener.close();
      await serving.catch(() => {});
    },
  };
}

async function answer(conn: Deno.Conn, step: Step, seen: SeenRequest[]): Promise<void> {
  const buffer = new Uint8Array(65_536);
  let received = new Uint8Array(0);
  const decoder = new TextDecoder();
  try {
    for (;;) {
      const text = decoder.decode(received);
      const end = text.indexOf("\r\n\r\n");
      if (end >= 0) {
        const [requestLine = "", ...lines] = text.slice(0, end).split("\r\n");
        const headers = new Headers(lines.map((line) => {
          const colon = line.indexOf(":");
          return [line.slice(0, colon).trim(), line.slice(colon + 1).trim()] as [string, string];
        }));
        const length = Number(headers.get("content-length") ?? "0");
        const bodyBytes = new TextEncoder().encode(text.slice(end + 4));
        if (bodyBytes.length >= length) {
          const path = requestLine.split(" ")[1] ?? "";
          // Preflights are not part of the script (supabase-js sends none from Deno anyway).
          seen.push({ path, headers, body: JSON.parse(decoder.decode(bodyBytes) || "null") });
          break;
        }
      }
      const n = await conn.read(buffer);
      if (n === null) return;
      const next = new Uint8Array(received.length + n);
      next.set(received);
      next.set(buffer.subarray(0, n), received.length);
      received = next;
    }
    if (step === "drop") return;
    const payload = JSON.stringify(step.body ?? null);
    const head = [
      `HTTP/1.1 ${step.status} X`,
      "content-type: application/json",
      `content-length: ${new TextEncoder().encode(payload).length}`,
      "connection: close",
      ...Object.entries(step.headers ?? {}).map(([name, value]) => `${name}: ${value}`),
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(`${head}\r\n\r\n${payload}`));
  } finally {
    conn.close();
  }
}

export const NOW = Date.parse("2026-01-01T00:00:00Z");
export const IN_30_MIN = "2026-01-01T00:30:00Z";
export const A = "00000000-0000-4000-8000-000000000001";
export const B = "00000000-0000-4000-8000-000000000002";
export const REQUEST = {
  email: "ada@example.com",
  items: [{ product_id: B, quantity: 1 }, { product_id: A, quantity: 2 }],
  success_url: "http://shop/thanks?session_id={CHECKOUT_SESSION_ID}",
  cancel_url: "http://shop/cart",
};

export function session(id: string, expiresAt = IN_30_MIN) {
  return {
    order_id: `order-${id}`,
    status: "pending",
    checkout_session_id: `cs_test_${id}`,
    checkout_url: `http://stripe/c/pay/cs_test_${id}`,
    amount_total: 4200,
    currency: "usd",
    expires_at: expiresAt,
  };
}
export const created = (id: string, expiresAt?: string): Step => ({
  status: 201,
  body: session(id, expiresAt),
});
export const replayed = (id: string, expiresAt?: string): Step => ({
  status: 200,
  body: session(id, expiresAt),
  headers: { "Idempotent-Replayed": "true" },
});
export const failure = (status: number, code: string, headers?: Record<string, string>): Step => ({
  status,
  body: { error: { code, message: `${code} happened`, details: null } },
  headers,
});

/** Everything injectable: memory storage, fixed clock and random, sleeps recorded not slept. */
export function harness(functionsUrl: string) {
  const storage = createMemoryStorage();
  const sleeps: number[] = [];
  let uuids = 0;
  return {
    storage,
    sleeps,
    options: {
      transport: fetchTransport({ functionsUrl, timeoutMs: 5_000 }),
      storage,
      now: () => NOW,
      random: () => 0.5,
      randomUUID: () => `key-${++uuids}`,
      sleep: (ms: number) => {
        sleeps.push(ms);
        return Promise.resolve();
      },
    },
  };
}
