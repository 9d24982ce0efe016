import assert from "node:assert/strict";
import { parseClientKey } from "../supabase/functions/_shared/client_key.ts";

const parse = (init: Record<string, string>) => parseClientKey(new Headers(init));

Deno.test("accepts Idempotency-Key and X-Idempotency-Key", () => {
  assert.deepEqual(parse({ "Idempotency-Key": "abc-123" }), { ok: true, key: "abc-123" });
  assert.deepEqual(parse({ "X-Idempotency-Key": "abc-123" }), { ok: true, key: "abc-123" });
});

Deno.test("unwraps an RFC 8941 quoted string with escapes", () => {
  assert.deepEqual(parse({ "Idempotency-Key": '"8e03978e-40d5-43e8-bc93-6894a57f9324"' }), {
    ok: true,
    key: "8e03978e-40d5-43e8-bc93-6894a57f9324",
  });
  assert.deepEqual(parse({ "Idempotency-Key": '"a\\"b\\\\c"' }), { ok: true, key: 'a"b\\c' });
});

Deno.test("reports a missing key as missing", () => {
  const result = parse({});
  assert.equal(result.ok, false);
  assert.equal(!result.ok && result.problem, "missing");
});

Deno.test("reports malformed keys as invalid", () => {
  for (
    const bad of [
      "a".repeat(256),
      "has space",
      "tab\there",
      "ünïcode",
      '""',
      '"unterminated',
      '"bad\\escape"',
      '"inner space"',
    ]
  ) {
    const result = parseClientKey(new Headers([["idempotency-key", bad]]));
    assert.equal(result.ok, false, bad);
    assert.equal(!result.ok && result.problem, "invalid", bad);
  }
});

Deno.test("accepts 255 visible characters and refuses two headers that disagree", () => {
  assert.equal(parse({ "Idempotency-Key": "~".repeat(255) }).ok, true);
  const both = parse({ "Idempotency-Key": "a", "X-Idempotency-Key": "b" });
  assert.equal(!both.ok && both.problem, "invalid");
  assert.equal(parse({ "Idempotency-Key": "a", "X-Idempotency-Key": "a" }).ok, true);
});
