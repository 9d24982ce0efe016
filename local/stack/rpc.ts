import postgres from "npm:postgres@3.4.9";
import { type ApiKeys, authenticateApiRequest } from "./api_auth.ts";
import type { JwtClaims } from "./jwt.ts";
import {
  type PostgrestError,
  postgrestError,
  postgrestErrorFromDatabase,
} from "./postgrest_errors.ts";
import { quoteIdent } from "./postgres.ts";
import type { FunctionSignature, ResultShape, SchemaCache } from "./schema_cache.ts";

/**
 * A PostgREST-compatible `POST|GET /rest/v1/rpc/<fn>`, enough for supabase-js `.rpc()`:
 * named arguments, the role from the JWT, one transaction per call, PostgREST's result
 * encoding and error mapping, function signatures from a schema cache (schema_cache.ts).
 * Everything else PostgREST does (tables, filters) is left out on purpose: our functions reach
 * the database only through RPC (README, top).
 */

export interface RpcHandlerOptions {
  /** A pool connected as a role that may `SET ROLE` to anon, authenticated and service_role. */
  sql: postgres.Sql;
  /** The project's API keys and signing keys: who a request runs as (api_auth.ts). */
  keys: ApiKeys;
  /** The signatures of `schema`'s functions (SchemaCache.start on the same database). */
  schemaCache: SchemaCache;
  /** PostgREST's `db-extra-search-path`; `db-schemas` is the cache's schema. */
  extraSearchPath?: string[];
  /** Called once per call that names a function, before it runs (the tests' round-trip counters). */
  onCall?: (name: string) => void;
}

export type RpcHandler = (request: Request, functionName: string) => Promise<Response>;

const ANON_ROLE = "anon";
/** The roles Supabase's `authenticator` may switch to; anything else is refused as PostgREST would. */
const SWITCHABLE_ROLES = new Set([ANON_ROLE, "authenticated", "service_role"]);

interface FunctionCandidate extends FunctionSignature {
  /** The whole body goes to the one json/jsonb parameter. */
  singleJsonArgument: boolean;
}

class RpcFailure extends Error {
  constructor(readonly failure: PostgrestError) {
    super(failure.body.message);
  }
}

export function createRpcHandler(options: RpcHandlerOptions): RpcHandler {
  const schema = options.schemaCache.schema;
  const searchPath = [...new Set([schema, ...(options.extraSearchPath ?? ["extensions"])])]
    .map(quoteIdent).join(", ");
  const credentials = new CredentialCache((headers) => authenticate(headers, options.keys));

  return async (request, functionName) => {
    let authenticated = false;
    try {
      if (request.method !== "POST" && request.method !== "GET") {
        throw new RpcFailure(
          postgrestError(405, "PGRST101", "Only GET and POST verbs are allowed for functions"),
        );
      }
      const auth = await credentials.authenticate(request.headers);
      authenticated = auth.role !== ANON_ROLE;
      options.onCall?.(functionName);
      const singleObject = /params=single-object/.test(request.headers.get("prefer") ?? "");
      const args = await readArguments(request);
      const candidate = await resolveFunction(
        options.schemaCache,
        functionName,
        args,
        singleObject,
      );
      const body = await call(options.sql, {
        schema,
        functionName,
        candidate,
        args,
        role: auth.role,
        claims: auth.claims,
        searchPath,
        method: request.method,
        path: new URL(request.url).pathname,
        headers: JSON.stringify(Object.fromEntries(request.headers)),
      });
      return respond(request, candidate.shape, body);
    } catch (error) {
      return errorResponse(toPostgrestError(error, authenticated));
    }
  };
}

type Authenticated = { role: string; claims: JwtClaims };

/**
 * PostgREST's JWT cache (`jwt-cache-max-lifetime`): the role and claims of credentials verified
 * once are reused until the token's `exp` or CACHE_MAX_LIFETIME_MS, whichever is first; the
 * functions send the same service-role key on every call, and verifying it (a WebCrypto key
 * import and an HMAC) cost about a third of a bare call. Rejections are not cached.
 */
class CredentialCache {
  #entries = new Map<string, { auth: Authenticated; until: number }>();

  constructor(private readonly verify: (headers: Headers) => Promise<Authenticated>) {}

  async authenticate(headers: Headers): Promise<Authenticated> {
    const key = `${headers.get("authorization") ?? ""}\n${headers.get("apikey") ?? ""}`;
    const now = Date.now();
    const hit = this.#entries.get(key);
    if (hit && hit.until > now) return hit.auth;
    const auth = await this.verify(headers);
    const exp = typeof auth.claims.exp === "number" ? auth.claims.exp * 1000 : Infinity;
    if (this.#entries.size >= CACHE_MAX_ENTRIES) this.#entries.clear();
    this.#entries.set(key, { auth, until: Math.min(exp, now + CACHE_MAX_LIFETIME_MS) });
    return auth;
  }
}

const CACHE_MAX_LIFETIME_MS = 60_000;
const CACHE_MAX_ENTRIES = 1_000;

async function authenticate(
  headers: Headers,
  keys: ApiKeys,
): Promise<{ role: string; claims: JwtClaims }> {
  const result = await authenticateApiRequest(headers, keys);
  if (!result.ok) {
    throw new RpcFailure({
      ...postgrestError(401, "PGRST301", result.message),
      headers: result.invalidToken
        ? {
          "WWW-Authenticate": `Bearer error="invalid_token", error_description="${result.message}"`,
        }
        : undefined,
    });
  }
  if (!SWITCHABLE_ROLES.has(result.role)) {
    throw new RpcFailure(
      postgrestError(403, "42501", `permission denied to set role "${result.role}"`),
    );
  }
  return { role: result.role, claims: result.claims };
}

async function readArguments(request: Request): Promise<Record<string, unknown>> {
  if (request.method === "GET") {
    return Object.fromEntries(new URL(request.url).searchParams);
  }
  const text = await request.text();
  if (text.trim() === "") return {};
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new RpcFailure(
      postgrestError(400, "PGRST102", "Empty or invalid json", String(error)),
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new RpcFailure(
      postgrestError(400, "PGRST102", "Function arguments must be a JSON object"),
    );
  }
  return parsed as Record<string, unknown>;
}

/** PostgREST's overload resolution: every key is a parameter, every parameter without a default is given. */
function findFunction(
  cache: SchemaCache,
  name: string,
  args: Record<string, unknown>,
  singleObject: boolean,
): FunctionCandidate[] {
  const keys = Object.keys(args);
  const matches: FunctionCandidate[] = [];
  for (const signature of cache.signatures(name)) {
    const inputs = signature.args;
    const isSingleJson = inputs.length === 1 &&
      (inputs[0]?.type === "json" || inputs[0]?.type === "jsonb") &&
      (singleObject || inputs[0]?.name === "");
    if (isSingleJson) {
      matches.push({ ...signature, singleJsonArgument: true });
      continue;
    }
    if (singleObject) continue;
    const names = new Set(inputs.map((arg) => arg.name));
    const allKnown = keys.every((key) => names.has(key));
    const requiredGiven = inputs.every((arg) => arg.hasDefault || keys.includes(arg.name));
    if (allKnown && requiredGiven) matches.push({ ...signature, singleJsonArgument: false });
  }
  return matches;
}

/** From the cache; a miss reloads it once (a function created or changed since the last load). */
async function resolveFunction(
  cache: SchemaCache,
  name: string,
  args: Record<string, unknown>,
  singleObject: boolean,
): Promise<FunctionCandidate> {
  let matches = findFunction(cache, name, args, singleObject);
  if (matches.length === 0) {
    await cache.reload();
    matches = findFunction(cache, name, args, singleObject);
  }
  const [match, ...others] = matches;
  if (match && others.length === 0) return match;
  const keys = Object.keys(args);
  const signature = `${cache.schema}.${name}(${keys.join(", ")})`;
  if (!match) {
    throw new RpcFailure(postgrestError(
      404,
      "PGRST202",
      `Could not find the function ${signature} in the schema cache`,
      `Searched for the function ${cache.schema}.${name} with parameters ${
        keys.join(", ") || "(none)"
      } or with a single unnamed json/jsonb parameter, but no matches were found in the schema cache.`,
    ));
  }
  throw new RpcFailure(postgrestError(
    300,
    "PGRST203",
    `Could not choose the best candidate function between several overloads of ${signature}`,
    null,
    "Try renaming the parameters or the function itself in the database so function overloading can be resolved",
  ));
}

interface CallPlan {
  schema: string;
  functionName: string;
  candidate: FunctionCandidate;
  args: Record<string, unknown>;
  role: string;
  claims: JwtClaims;
  searchPath: string;
  method: string;
  path: string;
  headers: string;
}

/**
 * One transaction in one round trip: a single simple-protocol message holding two
 * statements, which Postgres runs as one implicit transaction (an error in either rolls back
 * both). The first sets the request's settings and role (`set_config(…, true)` = SET LOCAL),
 * the second calls the function as that role — a separate statement, because EXECUTE is
 * checked when a statement starts. Values go in as escaped literals: the simple protocol has
 * no parameters, and the extended one would cost a round trip per statement (postgres.js
 * describes an unprepared statement with parameters before binding it).
 */
async function call(sql: postgres.Sql, plan: CallPlan): Promise<string | null> {
  const sub = typeof plan.claims.sub === "string" ? plan.claims.sub : "";
  const settings: [string, string][] = [
    // As PostgREST: GET is safe, so a function that writes fails with 25006 (→ 405) instead
    // of changing data a cache or a prefetching browser may repeat.
    ...(plan.method === "GET" ? [["transaction_read_only", "on"] as [string, string]] : []),
    ["search_path", plan.searchPath],
    ["request.jwt.claims", JSON.stringify(plan.claims)],
    ["request.jwt.claim.sub", sub],
    ["request.jwt.claim.role", plan.role],
    ["request.method", plan.method],
    ["request.path", plan.path],
    ["request.headers", plan.headers],
    ["role", plan.role],
  ];
  const setup = settings.map(([name, value]) =>
    `set_config(${sqlLiteral(name)}, ${sqlLiteral(value)}, true)`
  );
  const results = await sql.unsafe<{ body: string | null }[][]>(
    `select ${setup.join(", ")};\n${callQuery(plan)}`,
  );
  return results[1]?.[0]?.body ?? null;
}

/** A string constant that means `value` whatever standard_conforming_strings says. */
function sqlLiteral(value: string): string {
  // Postgres text cannot hold NUL; JSON.stringify escapes it and Headers refuse it.
  if (value.includes("\0")) throw new Error("a SQL string cannot contain NUL");
  return `E'${value.replaceAll("\\", "\\\\").replaceAll("'", "''")}'`;
}

function callQuery(plan: CallPlan): string {
  const { candidate } = plan;
  const fn = `${quoteIdent(plan.schema)}.${quoteIdent(plan.functionName)}`;
  let argumentSource = "";
  let callExpr: string;
  if (candidate.singleJsonArgument) {
    callExpr = `${fn}(${sqlLiteral(JSON.stringify(plan.args))}::${
      candidate.args[0]?.type ?? "jsonb"
    })`;
  } else {
    const given = candidate.args.filter((arg) => Object.hasOwn(plan.args, arg.name));
    const named = given.map((arg) => `${quoteIdent(arg.name)} := a.${quoteIdent(arg.name)}`);
    callExpr = `${fn}(${named.join(", ")})`;
    if (given.length > 0) {
      // Postgres casts each JSON value to the declared type, as PostgREST's json_to_record does.
      const columns = given.map((arg) => `${quoteIdent(arg.name)} ${arg.type}`).join(", ");
      argumentSource = `jsonb_to_record(${
        sqlLiteral(JSON.stringify(plan.args))
      }::jsonb) as a(${columns})`;
    }
  }
  const objectShape = candidate.shape === "object" || candidate.shape === "setof-object";
  // A subquery makes every result a row, so even a one-column RETURNS TABLE encodes as objects.
  const result = objectShape ? `(select * from ${callExpr}) r` : `${callExpr} r`;
  const source = argumentSource ? `${argumentSource}, lateral ${result}` : result;
  const select = {
    void: "null::text",
    scalar: "to_json(r)::text",
    object: "to_json(r)::text",
    "setof-scalar": "coalesce(json_agg(r), '[]')::text",
    "setof-object": "coalesce(json_agg(r), '[]')::text",
  }[candidate.shape];
  return `select ${select} as body from ${source}`;
}

function respond(request: Request, shape: ResultShape, body: string | null): Response {
  const headers = { "Content-Type": "application/json; charset=utf-8" };
  // PostgREST ≥ 10 answers a void function with 204 and no body.
  if (shape === "void") return new Response(null, { status: 204 });
  const text = body ?? "null";
  const wantsObject = (request.headers.get("accept") ?? "").includes(
    "application/vnd.pgrst.object+json",
  );
  if (shape.startsWith("setof")) {
    const items = JSON.parse(text) as unknown[];
    if (wantsObject) {
      if (items.length !== 1) {
        return errorResponse(postgrestError(
          406,
          "PGRST116",
          "JSON object requested, multiple (or no) rows returned",
          `The result contains ${items.length} rows`,
        ));
      }
      return new Response(JSON.stringify(items[0]), { status: 200, headers });
    }
    const range = items.length === 0 ? "*/*" : `0-${items.length - 1}/*`;
    return new Response(text, { status: 200, headers: { ...headers, "Content-Range": range } });
  }
  return new Response(text, { status: 200, headers });
}

function toPostgrestError(error: unknown, authenticated: boolean): PostgrestError {
  if (error instanceof RpcFailure) return error.failure;
  if (error instanceof postgres.PostgresError) {
    return postgrestErrorFromDatabase(error, authenticated);
  }
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === "string" && /^(ECONN|CONNECT_TIMEOUT|CONNECTION_)/.test(code)) {
    return postgrestError(503, "PGRST000", "Could not connect to the database", String(error));
  }
  console.error("rpc: unexpected error", error);
  return postgrestError(500, "PGRSTX00", "Internal error", String(error));
}

export function errorResponse(error: PostgrestError): Response {
  return new Response(JSON.stringify(error.body), {
    status: error.status,
    headers: { "Content-Type": "application/json; charset=utf-8", ...error.headers },
  });
}
