import { createHash } from "node:crypto";
import { canonicalJson } from "./canonical_json.ts";

/**
 * SHA-256 (hex) of the scope and the canonical JSON of the validated body (README: "How a request runs"):
 * the same body in another key order or with other whitespace has the same
 * fingerprint; the same body in another scope does not. Hashed with node:crypto, which is
 * synchronous: `crypto.subtle.digest` gives the same bytes but hands each digest to a
 * thread pool, which under concurrency cost more than the rest of a replay's work.
 */
export function requestFingerprint(scope: string, body: unknown): string {
  return createHash("sha256").update(`${scope}\n${canonicalJson(body)}`, "utf8").digest("hex");
}
