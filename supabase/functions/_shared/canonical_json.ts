/**
 * JSON with object keys sorted (by UTF-16 code units, as `Array.prototype.sort`) and
 * no whitespace, so the same value always has the same bytes: request fingerprints
 * ignore key order, and a stored response replays byte-for-byte whatever order
 * Postgres' jsonb hands its keys back in.
 */
export function canonicalJson(value: unknown): string {
  const text = JSON.stringify(sortKeys(value));
  if (text === undefined) {
    throw new TypeError(`canonicalJson: ${typeof value} has no JSON form`);
  }
  return text;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === "object" && !isJsonLeafObject(value)) {
    const sorted: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      sorted[key] = sortKeys((value as Record<string, unknown>)[key]);
    }
    return sorted;
  }
  return value;
}

/** Objects whose own `toJSON` decides their form (e.g. Date) are left to it. */
function isJsonLeafObject(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === "function";
}
