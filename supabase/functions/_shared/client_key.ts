/**
 * The client's `Idempotency-Key` (or `X-Idempotency-Key`) header (README: "The key lifecycle"):
 * 1–255 visible ASCII characters; a value wrapped in double quotes (an RFC 8941
 * string, as the IETF idempotency-key draft writes it) is unwrapped first.
 */
export type ClientKeyResult =
  | { ok: true; key: string }
  | { ok: false; problem: "missing" | "invalid"; reason: string };

export const CLIENT_KEY_MAX_LENGTH = 255;

const VISIBLE_ASCII = /^[\x21-\x7e]+$/;
// RFC 8941 §3.3.3: printable ASCII inside quotes, with only \" and \\ escaped.
const SF_STRING = /^"((?:[\x20\x21\x23-\x5b\x5d-\x7e]|\\["\\])*)"$/;

export function parseClientKey(headers: Headers): ClientKeyResult {
  const primary = headers.get("idempotency-key");
  const legacy = headers.get("x-idempotency-key");
  if (primary !== null && legacy !== null && primary !== legacy) {
    return {
      ok: false,
      problem: "invalid",
      reason: "Idempotency-Key and X-Idempotency-Key are both set and differ",
    };
  }
  const raw = primary ?? legacy;
  if (raw === null || raw.length === 0) {
    return { ok: false, problem: "missing", reason: "send an Idempotency-Key header" };
  }
  let key = raw;
  if (raw.startsWith('"')) {
    const match = SF_STRING.exec(raw);
    if (!match || match[1] === undefined) {
      return { ok: false, problem: "invalid", reason: "a quoted key must be an RFC 8941 string" };
    }
    key = match[1].replace(/\\(["\\])/g, "$1");
  }
  if (key.length < 1 || key.length > CLIENT_KEY_MAX_LENGTH) {
    return {
      ok: false,
      problem: "invalid",
      reason: `the key must be 1-${CLIENT_KEY_MAX_LENGTH} characters, got ${key.length}`,
    };
  }
  if (!VISIBLE_ASCII.test(key)) {
    return { ok: false, problem: "invalid", reason: "the key must be visible ASCII characters" };
  }
  return { ok: true, key };
}
