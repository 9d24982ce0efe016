import assert from "node:assert/strict";
import fc from "npm:fast-check@4.10.2";
import { canonicalJson } from "../supabase/functions/_shared/canonical_json.ts";
import { requestFingerprint } from "../supabase/functions/_shared/fingerprint.ts";

function shuffleKeys(value: unknown, seed: number): unknown {
  if (Array.isArray(value)) return value.map((v) => shuffleKeys(v, seed + 1));
  if (value !== null && typeof value === "object") {
    const entries = Object.entries(value);
    entries.sort((a, b) => ((a[0].length * 31 + seed) % 7) - ((b[0].length * 31 + seed) % 7));
    entries.reverse();
    return Object.fromEntries(entries.map(([k, v]) => [k, shuffleKeys(v, seed + 1)]));
  }
  return value;
}

Deno.test("canonical JSON sorts keys at every depth and drops whitespace", () => {
  assert.equal(
    canonicalJson({ b: 1, a: { d: [1, { z: 0, y: 1 }], c: "x" } }),
    '{"a":{"c":"x","d":[1,{"y":1,"z":0}]},"b":1}',
  );
});

Deno.test("canonical JSON is the same whatever the key order", () => {
  fc.assert(
    fc.property(fc.jsonValue(), fc.integer(), (value, seed) => {
      assert.equal(canonicalJson(shuffleKeys(value, seed)), canonicalJson(value));
    }),
  );
});

Deno.test("canonical JSON round-trips to an equal value", () => {
  fc.assert(
    fc.property(fc.jsonValue(), (value) => {
      assert.deepEqual(JSON.parse(canonicalJson(value)), JSON.parse(JSON.stringify(value)));
    }),
  );
});

Deno.test("fingerprint ignores key order and whitespace but not values or scope", async () => {
  const body = JSON.parse('{"items":[{"product_id":"p","quantity":2}],"email":"a@b.c"}');
  const reordered = JSON.parse(
    '{ "email" : "a@b.c",\n "items": [ { "quantity": 2, "product_id": "p" } ] }',
  );
  const a = await requestFingerprint("guest", body);
  assert.match(a, /^[0-9a-f]{64}$/);
  assert.equal(await requestFingerprint("guest", reordered), a);
  assert.notEqual(await requestFingerprint("user:1", body), a);
  assert.notEqual(
    await requestFingerprint("guest", { ...body, email: "other@b.c" }),
    a,
  );
});

/** The fingerprint as it was first computed (SubtleCrypto over the UTF-8 bytes): stored keys hold it. */
async function subtleFingerprint(scope: string, body: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(`${scope}\n${canonicalJson(body)}`);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

Deno.test("the fingerprint is byte-identical to the SubtleCrypto one stored keys were made with", async () => {
  // Pinned: sha256sum of the same text, so neither implementation can drift with the other.
  const body = JSON.parse('{"items":[{"product_id":"p","quantity":2}],"email":"a@b.c"}');
  assert.equal(
    requestFingerprint("guest", body),
    "b94a3cbfc898f3279baec0780864a4aa295bd725f6085e2bf1264dce5f114439",
  );
  assert.equal(
    requestFingerprint("user:1", { name: "Zoë ☕ 𝄞" }),
    "1e37a761019b0f20a0f94c40321b5cf74dd6e66ba03b01d3aae484e99131f49d",
  );
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: "grapheme" }), fc.jsonValue(), async (scope, value) => {
      assert.equal(requestFingerprint(scope, value), await subtleFingerprint(scope, value));
    }),
    { numRuns: 300 },
  );
});
