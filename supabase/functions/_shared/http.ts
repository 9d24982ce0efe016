import { ApiError } from "./errors.ts";
import { isUtf8Label, parseMediaType } from "./media_type.ts";

/** Bodies above this are refused with 413 before they are parsed (README: "Errors"). */
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

export function preflightResponse(
  req: Request,
  allowedOrigins: readonly string[],
  methods = "POST, OPTIONS",
): Response {
  const headers = corsHeaders(req, allowedOrigins);
  if (headers.has("access-control-allow-origin")) {
    headers.set("access-control-allow-methods", methods);
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
  requireJsonType(req.headers.get("content-type") ?? "");
  const bytes = await readLimitedBody(req, MAX_BODY_BYTES);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new ApiError("invalid_json", { details: { reason: "the body is not valid UTF-8" } });
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ApiError("invalid_json", { details: { reason: (error as Error).message } });
  }
}

/**
 * application/json, and UTF-8 if it names a charset at all: a body declared in another
 * charset (`charset=utf-16`) would otherwise be read as UTF-8 and mean something else.
 */
function requireJsonType(header: string): void {
  const type = parseMediaType(header);
  if (type.essence !== "application/json") {
    throw new ApiError("unsupported_media_type", { details: { content_type: header || null } });
  }
  for (const { name, value } of type.parameters) {
    if (name === "charset" && (value === null || !isUtf8Label(value))) {
      throw new ApiError("unsupported_media_type", {
        details: { content_type: header, charset: value, expected_charset: "utf-8" },
      });
    }
  }
}

/**
 * The body's bytes, at most `limit`: a Content-Length above it is refused before
 * anything is read, and the stream is counted as it arrives (a body may come without
 * Content-Length, or with a false one) → 413 `payload_too_large`.
 */
export async function readLimitedBody(req: Request, limit: number): Promise<Uint8Array> {
  const declared = Number(req.headers.get("content-length") ?? "0");
  if (declared > limit) {
    throw new ApiError("payload_too_large", { details: { limit_bytes: limit } });
  }
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
      throw new ApiError("payload_too_large", { details: { limit_bytes: limit } });
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
