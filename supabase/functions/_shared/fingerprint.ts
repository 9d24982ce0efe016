import { canonicalJson } from "./canonical_json.ts";

/**
 * SHA-256 (hex) of the scope and the canonical JSON of the validated body (SPEC §2):
 * the same body in another key order or with other whitespace has the same
 * fingerprint; the same body in another scope does not.
 */
export async function requestFingerprint(scope: string, body: unknown): Promise<string> {
  const bytes = new TextEncoder().encode(`${scope}\n${canonicalJson(body)}`);
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
