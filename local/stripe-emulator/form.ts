/**
 * Decoding of Stripe's form encoding: `line_items[0][price_data][unit_amount]=100` becomes a
 * tree of nested records with string leaves. Arrays stay records keyed by index here; the
 * parameter readers (params.ts) decide which nodes are arrays, as Stripe's API does.
 */
import { invalidRequest } from "./errors.ts";

export type FormNode = string | FormRecord;
export interface FormRecord {
  [key: string]: FormNode;
}

/** Splits `a[b][0][]` into `["a", "b", "0", ""]`; an empty segment means "append". */
function splitKey(key: string): string[] {
  const open = key.indexOf("[");
  if (open <= 0) return [key];
  const segments = [key.slice(0, open)];
  const rest = key.slice(open);
  const pattern = /\[([^\[\]]*)\]/g;
  let consumed = 0;
  for (const match of rest.matchAll(pattern)) {
    if (match.index !== consumed) break;
    segments.push(match[1] ?? "");
    consumed += match[0].length;
  }
  // Trailing text that is not a bracket pair is kept literally, as Rack does.
  if (consumed < rest.length) segments[segments.length - 1] += rest.slice(consumed);
  return segments;
}

function nextIndex(record: FormRecord): string {
  return String(Object.keys(record).length);
}

export function decodeForm(text: string): FormRecord {
  const root: FormRecord = {};
  for (const [rawKey, value] of new URLSearchParams(text)) {
    const segments = splitKey(rawKey);
    let node: FormRecord = root;
    let path = "";
    for (let i = 0; i < segments.length; i++) {
      const segment = segments[i] === "" ? nextIndex(node) : segments[i] ?? "";
      path = i === 0 ? segment : `${path}[${segment}]`;
      const last = i === segments.length - 1;
      const existing: FormNode | undefined = node[segment];
      if (last) {
        if (typeof existing === "object") {
          throw invalidRequest(`Invalid hash: ${path} is both a value and a hash.`, path);
        }
        node[segment] = value;
      } else if (existing === undefined) {
        const child: FormRecord = {};
        node[segment] = child;
        node = child;
      } else if (typeof existing === "string") {
        throw invalidRequest(`Invalid hash: ${path} is both a value and a hash.`, path);
      } else {
        node = existing;
      }
    }
  }
  return root;
}

/** JSON with sorted keys, so two requests with the same parameters compare equal. */
export function canonicalForm(node: FormNode): string {
  if (typeof node === "string") return JSON.stringify(node);
  const keys = Object.keys(node).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalForm(node[k] ?? "")}`).join(",")}}`;
}
