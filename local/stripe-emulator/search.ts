/**
 * A subset of Stripe's Search Query Language, for `GET /v1/<resource>/search`: clauses
 * `field:'value'` (exact, case-insensitive), `field~'value'` (substring, at least 3 characters),
 * `metadata['key']:'value'`, `-` before a clause to negate it, numeric `field>n` / `>=` / `<` /
 * `<=` / `:n`, joined by `AND` or by `OR` (not both in one query, as Stripe requires). Results
 * come newest first; `page` is the cursor a previous answer gave as `next_page`. Unlike Stripe's,
 * the index is never stale: an object is searchable as soon as it exists.
 */
import { invalidRequest } from "./errors.ts";
import type { FormRecord } from "./form.ts";
import { arrayOf, checkShape, objectOf, Params, scalar } from "./params.ts";

export type Operator = ":" | "~" | ">" | ">=" | "<" | "<=";

export interface Clause {
  field: string;
  /** `metadata['key']` → "key"; undefined for other fields. */
  metadataKey: string | undefined;
  operator: Operator;
  value: string;
  negated: boolean;
}

export interface SearchQuery {
  clauses: Clause[];
  join: "AND" | "OR";
}

export interface SearchResult<T> {
  object: "search_result";
  data: T[];
  has_more: boolean;
  next_page: string | null;
  url: string;
}

/** What each searchable field reads from an object: a string, a number, or its metadata. */
export type FieldReaders<T> = Record<string, (object: T) => string | number | null>;

const searchShape = objectOf({
  query: scalar,
  limit: scalar,
  page: scalar,
  expand: arrayOf(scalar),
});

function queryError(message: string): never {
  throw invalidRequest(`Invalid query: ${message}`, "query");
}

function readQuoted(text: string, start: number): { value: string; end: number } {
  const quote = text[start];
  if (quote !== "'" && quote !== '"') queryError(`expected a quoted value at position ${start}`);
  let value = "";
  for (let i = start + 1; i < text.length; i++) {
    const char = text[i];
    if (char === "\\" && i + 1 < text.length) {
      value += text[++i];
      continue;
    }
    if (char === quote) return { value, end: i + 1 };
    value += char;
  }
  return queryError(`unterminated string starting at position ${start}`);
}

/** Parses a query against the fields a resource allows (`metadata` is always allowed). */
export function parseSearchQuery(text: string, fields: readonly string[]): SearchQuery {
  const clauses: Clause[] = [];
  const joins = new Set<"AND" | "OR">();
  let i = 0;
  const skipSpaces = () => {
    while (text[i] === " ") i++;
  };
  for (;;) {
    skipSpaces();
    const negated = text[i] === "-";
    if (negated) i++;
    const name = /^[a-z_]+/.exec(text.slice(i))?.[0];
    if (!name) queryError(`expected a field name at position ${i}`);
    i += name.length;
    let metadataKey: string | undefined;
    if (name === "metadata") {
      if (text[i] !== "[") queryError("metadata must be followed by ['key']");
      const key = readQuoted(text, i + 1);
      if (text[key.end] !== "]") queryError("metadata must be followed by ['key']");
      metadataKey = key.value;
      i = key.end + 1;
    } else if (!fields.includes(name)) {
      queryError(`Field '${name}' is an unsupported search field.`);
    }
    const operator = ([">=", "<=", ":", "~", ">", "<"] as const).find((op) =>
      text.startsWith(op, i)
    );
    if (!operator) queryError(`expected an operator after '${name}' at position ${i}`);
    i += operator.length;
    let value: string;
    if (text[i] === "'" || text[i] === '"') {
      const quoted = readQuoted(text, i);
      value = quoted.value;
      i = quoted.end;
    } else {
      const bare = /^-?\d+(\.\d+)?/.exec(text.slice(i))?.[0];
      if (bare === undefined) queryError(`expected a quoted value or a number at position ${i}`);
      value = bare;
      i += bare.length;
    }
    if (operator === "~" && value.length < 3) {
      queryError("substring (~) queries need at least 3 characters");
    }
    clauses.push({ field: name, metadataKey, operator, value, negated });
    skipSpaces();
    if (i >= text.length) break;
    const join = /^(AND|OR) /.exec(text.slice(i))?.[1];
    if (join !== "AND" && join !== "OR") queryError(`expected AND or OR at position ${i}`);
    joins.add(join);
    i += join.length;
  }
  if (joins.size > 1) queryError("a query cannot combine AND and OR");
  if (clauses.length > 10) queryError("a query can have at most 10 clauses");
  return { clauses, join: joins.has("OR") ? "OR" : "AND" };
}

function clauseMatches<T>(
  clause: Clause,
  object: T & { metadata: Record<string, string> },
  readers: FieldReaders<T>,
): boolean {
  const actual = clause.metadataKey !== undefined
    ? object.metadata[clause.metadataKey] ?? null
    : readers[clause.field]?.(object) ?? null;
  let result: boolean;
  if (actual === null) {
    result = false;
  } else if (typeof actual === "number") {
    const wanted = Number(clause.value);
    result = clause.operator === ">"
      ? actual > wanted
      : clause.operator === ">="
      ? actual >= wanted
      : clause.operator === "<"
      ? actual < wanted
      : clause.operator === "<="
      ? actual <= wanted
      : actual === wanted;
  } else if (clause.operator === ":") {
    result = actual.toLowerCase() === clause.value.toLowerCase();
  } else if (clause.operator === "~") {
    result = actual.toLowerCase().includes(clause.value.toLowerCase());
  } else {
    queryError(`'${clause.operator}' applies to numeric fields only`);
  }
  return clause.negated ? !result : result;
}

/** `GET /v1/<resource>/search` over `objects` (oldest first, as the emulator stores them). */
export function prepareSearch<T extends { id: string; metadata: Record<string, string> }>(
  form: FormRecord,
  url: string,
  readers: FieldReaders<T>,
): (objects: Iterable<T>) => SearchResult<T> {
  checkShape(form, searchShape, "");
  const p = new Params(form);
  const text = p.string("query", { required: true }) ?? "";
  const limit = p.integer("limit", { min: 1, max: 100 }) ?? 10;
  const page = p.string("page");
  const expand = p.strings("expand");
  if (expand[0] !== undefined) {
    throw invalidRequest(`This property cannot be expanded (${expand[0]}).`, "expand[0]");
  }
  const query = parseSearchQuery(text, Object.keys(readers));
  let after: string | undefined;
  if (page !== undefined) {
    after = /^page_after_(.+)$/.exec(page)?.[1];
    if (after === undefined) throw invalidRequest(`Invalid page: ${page}`, "page");
  }
  return (objects) => {
    const all = [...objects].reverse();
    // The cursor is the last object of the previous page, positioned in the full list, so
    // objects created meanwhile (they come first) neither repeat nor shift later pages.
    const start = after === undefined ? 0 : all.findIndex((object) => object.id === after) + 1;
    if (start === 0 && after !== undefined) throw invalidRequest(`Invalid page: ${page}`, "page");
    const matches = all.slice(start).filter((object) => {
      const results = query.clauses.map((clause) => clauseMatches(clause, object, readers));
      return query.join === "AND" ? results.every(Boolean) : results.some(Boolean);
    });
    const data = matches.slice(0, limit);
    const last = data[data.length - 1];
    const hasMore = matches.length > limit && last !== undefined;
    return {
      object: "search_result",
      data,
      has_more: hasMore,
      next_page: hasMore ? `page_after_${last.id}` : null,
      url,
    };
  };
}
