/**
 * Starts an outbox-dispatch pass without waiting for it: stripe-webhook calls this right
 * after an event's effect (and its outbox messages) committed, so messages go out within
 * moments instead of at the next scheduled run. The schedule still catches whatever a
 * kick misses (a failed kick is only logged).
 */

/** Supabase's edge runtime keeps the worker alive for promises handed to waitUntil. */
declare const EdgeRuntime: { waitUntil(promise: Promise<unknown>): void } | undefined;

export type Kick = () => void;

export function createOutboxKick(
  supabaseUrl: string,
  secretKey: string,
  fetchFn: typeof fetch = fetch,
): Kick {
  const url = new URL("/functions/v1/outbox-dispatch", supabaseUrl).toString();
  return () => {
    const run = fetchFn(url, {
      method: "POST",
      headers: {
        apikey: secretKey,
        authorization: `Bearer ${secretKey}`,
        "content-type": "application/json",
      },
      body: "{}",
    }).then(async (response) => {
      await response.body?.cancel();
      if (!response.ok) console.error(`outbox kick: outbox-dispatch answered ${response.status}`);
    }).catch((error) => console.error("outbox kick failed:", error));
    if (typeof EdgeRuntime !== "undefined") EdgeRuntime.waitUntil(run);
  };
}
