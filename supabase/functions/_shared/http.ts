import { ApiError } from "./errors.ts";

/** SPEC §4: bodies above this are refused with 413 before they are parsed. */
export const MAX_BODY_BYTES = 64 * 1024;

const ALLOWED_HEADERS = [
  "authorization",
  "x-client-info",
  "apikey",
  "content-type",
  "idempotency-key",
  "x-idempotency-key",
].join(", ");

/** CORS headers for a request whose Origin is allowed; none for any other origin. */
export function corsHeaders(req: Request, allowedOrigins: readonly string[]): Headers {
  const headers = new Headers({ vary: "Origin" });
  const origin = req.headers.get("origin");
  if (origin !== null && allowedOrigins.includes(origin)) {
    headers.set("access-control-allow-origin", origin);
    headers.set("access-control-expose-headers", "Idempotent-Replayed, Retry-After");
  }
  return headers;
}

export function preflightResponse(req: Request, allowedOrigins: readonly string[]): Response {
  const headers = corsHeaders(req, allowedOrigins);
  if (headers.has("access-control-allow-origin")) {
    headers.set("access-control-allow-methods", "POST, OPTIONS");
    headers.set("access-control-allow-headers", ALLOWED_HEADERS);
    headers.set("access-control-max-age", "600");
  }
  return new Response(null, { status: 204, headers });
}

/**
 * Reads a JSON body: application/json only, at most MAX_BODY_BYTES (counted while
 * reading, whatever Content-Length claims), strict UTF-8.
 */
export async function readJsonBody(req: Request): Promise<unknown> {
  const type = req.headers.get("content-type") ?? "";
  if (!/^application\/json\s*(;|$)/i.test(type)) {
    throw new ApiError("unsupported_media_type", { content_type: type || null });
  }
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > MAX_BODY_BYTES) {
    throw new ApiError("payload_too_large", { limit_bytes: MAX_BODY_BYTES });
  }
  const bytes = await readAtMost(req, MAX_BODY_BYTES);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError("invalid_json", { reason: "the body is not valid UTF-8" });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError("invalid_json", { reason: (error as Error).message });
  }
}

async function readAtMost(req: Request, limit: number): Promise<Uint8Array> {
  if (!req.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = req.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel();
      throw new ApiError("payload_too_large", { limit_bytes: limit });
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}
