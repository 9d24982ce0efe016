/**
 * Webhook signatures exactly as Stripe computes them: HMAC-SHA256 over `${t}.${payload}` keyed
 * with the whole `whsec_…` string (not base64-decoded), hex-encoded, sent as `t=…,v1=…`.
 */
const encoder = new TextEncoder();

export async function computeSignature(
  secret: string,
  timestamp: number,
  payload: string,
): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    [
      "sign",
    ],
  );
  const mac = await crypto.subtle.sign("HMAC", key, encoder.encode(`${timestamp}.${payload}`));
  return Array.from(new Uint8Array(mac), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** The `Stripe-Signature` header; `timestamp` is real wall-clock seconds. */
export async function signatureHeader(
  secret: string,
  payload: string,
  timestamp = Math.floor(Date.now() / 1000),
): Promise<string> {
  return `t=${timestamp},v1=${await computeSignature(secret, timestamp, payload)}`;
}
