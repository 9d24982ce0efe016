import postgres from "npm:postgres@3.4.9";
import { bearerToken, type JwtClaims, verifyJwt } from "./jwt.ts";
import {
  type PostgrestError,
  postgrestError,
  postgrestErrorFromDatabase,
} from "./postgrest_errors.ts";
import { quoteIdent } from "./postgres.ts";

/**
 * A PostgREST-compatible `POST|GET /rest/v1/rpc/<fn>`, enough for supabase-js `.rpc()`:
 * named arguments, the role from the JWT, one transaction per call, PostgREST's result
 * encoding and error mapping. Everything else PostgREST does (tables, filters) is left out
 * on purpose: our functions reach the database only through RPC (SPEC §1).
 */

export interface RpcHandlerOptions {
  /** A pool connected as a role that may `SET ROLE` to anon, authenticated and service_role. */
  sql: postgres.Sql;
  jwtSecret: string;
  /** PostgREST's `db-schemas` (only the first is used) and `db-extra-search-path`. */
  schema?: string;
  extraSearchPath?: string[];
  /** Called once per call that names a function, before it runs (the tests' round-trip counters). */
  onCall?: (name: string) => void;
}

export type RpcHandler = (request: Request, functionName: string) => Promise<Response>;

const ANON_ROLE = "anon";
/** The roles Supabase's `authenticator` may switch to; anything else is refused as PostgREST would. */
const SWITCHABLE_ROLES = new Set([ANON_ROLE, "authenticated", "service_role"]);

type ResultShape = "void" | "scalar" | "object" | "setof-scalar" | "setof-object";

interface FunctionArg {
  name: string;
  type: string;
  hasDefault: boolean;
}

interface FunctionCandidate {
  shape: ResultShape;
  args: FunctionArg[];
  /** The whole body goes to the one json/jsonb parameter. */
  singleJsonArgument: boolean;
}

interface ProcRow {
  retset: boolean;
  rettype: string;
  typtype: string;
  nargs: number;
  ndefaults: number;
  argnames: string[] | null;
  argmodes: string[] | null;
  argtypes: string[];
}

class RpcFailure extends Error {
  constructor(readonly failure: PostgrestError) {
    super(failure.body.message);
  }
}

export function createRpcHandler(options: RpcHandlerOptions): RpcHandler {
  const schema = options.schema ?? "public";
  const searchPath = [...new Set([schema, ...(options.extraSearchPath ?? ["extensions"])])]
    .map(quoteIdent).join(", ");

  return async (request, functionName) => {
    let authenticated = false;
    try {
      if (request.method !== "POST" && request.method !== "GET") {
        throw new RpcFailure(
          postgrestError(405, "PGRST101", "Only GET and POST verbs are allowed for functions"),
        );
      }
      const auth = await authenticate(request.headers, options.jwtSecret);
      authenticated = auth.role !== ANON_ROLE;
      options.onCall?.(functionName);
      const singleObject = /params=single-object/.test(request.headers.get("prefer") ?? "");
      const args = await readArguments(request);
      const candidate = await findFunction(options.sql, schema, functionName, args, singleObject);
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

async function authenticate(
  headers: Headers,
  secret: string,
): Promise<{ role: string; claims: JwtClaims }> {
  // supabase-js sends the key twice; Authorization wins, as behind Supabase's gateway.
  const token = bearerToken(headers) || headers.get("apikey") || undefined;
  if (!token) return { role: ANON_ROLE, claims: { role: ANON_ROLE } };
  const result = await verifyJwt(token, secret);
  if (!result.ok) {
    throw new RpcFailure({
      ...postgrestError(401, "PGRST301", result.message),
      headers: {
        "WWW-Authenticate": `Bearer error="invalid_token", error_description="${result.message}"`,
      },
    });
  }
  const role = typeof result.claims.role === "string" ? result.claims.role : ANON_ROLE;
  if (!SWITCHABLE_ROLES.has(role)) {
    throw new RpcFailure(
      postgrestError(403, "42501", `permission denied to set role "${role}"`),
    );
  }
  return { role, claims: result.claims };
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

const PROC_QUERY = `
  select p.proretset as retset,
         format_type(p.prorettype, null) as rettype,
         t.typtype::text as typtype,
         p.pronargs as nargs,
         p.pronargdefaults as ndefaults,
         p.proargnames as argnames,
         p.proargmodes::text[] as argmodes,
         array(
           select format_type(a.oid, null)
           from unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) with ordinality a(oid, n)
           order by a.n
         ) as argtypes
  from pg_proc p
  join pg_namespace n on n.oid = p.pronamespace
  join pg_type t on t.oid = p.prorettype
  where n.nspname = $1 and p.proname = $2 and p.prokind = 'f'`;

/** PostgREST's overload resolution: every key is a parameter, every parameter without a default is given. */
async function findFunction(
  sql: postgres.Sql,
  schema: string,
  name: string,
  args: Record<string, unknown>,
  singleObject: boolean,
): Promise<FunctionCandidate> {
  const rows = await sql.unsafe<ProcRow[]>(PROC_QUERY, [schema, name]);
  const keys = Object.keys(args);
  const matches: FunctionCandidate[] = [];
  for (const row of rows) {
    const candidate = describe(row);
    const inputs = candidate.args;
    const isSingleJson = inputs.length === 1 &&
      (inputs[0]?.type === "json" || inputs[0]?.type === "jsonb") &&
      (singleObject || inputs[0]?.name === "");
    if (isSingleJson) {
      matches.push({ ...candidate, singleJsonArgument: true });
      continue;
    }
    if (singleObject) continue;
    const names = new Set(inputs.map((arg) => arg.name));
    const allKnown = keys.every((key) => names.has(key));
    const requiredGiven = inputs.every((arg) => arg.hasDefault || keys.includes(arg.name));
    if (allKnown && requiredGiven) matches.push(candidate);
  }
  const [match, ...others] = matches;
  if (match && others.length === 0) return match;
  const signature = `${schema}.${name}(${keys.join(", ")})`;
  if (!match) {
    throw new RpcFailure(postgrestError(
      404,
      "PGRST202",
      `Could not find the function ${signature} in the schema cache`,
      `Searched for the function ${schema}.${name} with parameters ${
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

function describe(row: ProcRow): FunctionCandidate {
  const modes = row.argmodes ?? row.argtypes.map(() => "i");
  const args: FunctionArg[] = [];
  let hasTableColumns = false;
  modes.forEach((mode, index) => {
    if (mode === "t") hasTableColumns = true;
    if (mode !== "i" && mode !== "b" && mode !== "v") return;
    args.push({
      name: row.argnames?.[index] ?? "",
      type: row.argtypes[index] ?? "unknown",
      hasDefault: false,
    });
  });
  // Defaults always belong to the trailing input parameters.
  for (let i = args.length - row.ndefaults; i < args.length; i++) {
    const arg = args[i];
    if (arg) arg.hasDefault = true;
  }
  const composite = row.typtype === "c" || row.rettype === "record" || hasTableColumns;
  let shape: ResultShape;
  if (row.rettype === "void") shape = "void";
  else if (row.retset) shape = composite ? "setof-object" : "setof-scalar";
  else shape = composite ? "object" : "scalar";
  return { shape, args, singleJsonArgument: false };
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

/** One transaction: the request settings and role first (`set_config(…, true)` = SET LOCAL), then the call. */
async function call(sql: postgres.Sql, plan: CallPlan): Promise<string | null> {
  const { query, params } = callQuery(plan);
  const sub = typeof plan.claims.sub === "string" ? plan.claims.sub : "";
  const rows = await sql.begin(async (tx) => {
    // As PostgREST: GET is safe, so a function that writes fails with 25006 (→ 405) instead
    // of changing data a cache or a prefetching browser may repeat.
    if (plan.method === "GET") await tx.unsafe("set transaction read only");
    await tx.unsafe(
      `select set_config('search_path', $1, true),
              set_config('request.jwt.claims', $2, true),
              set_config('request.jwt.claim.sub', $3, true),
              set_config('request.jwt.claim.role', $4, true),
              set_config('request.method', $5, true),
              set_config('request.path', $6, true),
              set_config('request.headers', $7, true),
              set_config('role', $4, true)`,
      [
        plan.searchPath,
        JSON.stringify(plan.claims),
        sub,
        plan.role,
        plan.method,
        plan.path,
        plan.headers,
      ],
    );
    return await tx.unsafe<{ body: string | null }[]>(query, params);
  });
  return rows[0]?.body ?? null;
}

function callQuery(plan: CallPlan): { query: string; params: string[] } {
  const { candidate } = plan;
  const fn = `${quoteIdent(plan.schema)}.${quoteIdent(plan.functionName)}`;
  let argumentSource = "";
  let callExpr: string;
  const params: string[] = [];
  if (candidate.singleJsonArgument) {
    // Typed as text so the driver sends our JSON as is instead of encoding it again.
    callExpr = `${fn}($1::text::${candidate.args[0]?.type ?? "jsonb"})`;
    params.push(JSON.stringify(plan.args));
  } else {
    const given = candidate.args.filter((arg) => Object.hasOwn(plan.args, arg.name));
    const named = given.map((arg) => `${quoteIdent(arg.name)} := a.${quoteIdent(arg.name)}`);
    callExpr = `${fn}(${named.join(", ")})`;
    if (given.length > 0) {
      // Postgres casts each JSON value to the declared type, as PostgREST's json_to_record does.
      const columns = given.map((arg) => `${quoteIdent(arg.name)} ${arg.type}`).join(", ");
      argumentSource = `jsonb_to_record($1::text::jsonb) as a(${columns})`;
      params.push(JSON.stringify(plan.args));
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
  return { query: `select ${select} as body from ${source}`, params };
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
