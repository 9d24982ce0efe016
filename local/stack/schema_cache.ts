import type postgres from "npm:postgres@3.4.9";

/**
 * PostgREST's schema cache, for functions only: the signatures of every function of the
 * exposed schema, read from the catalog once at start instead of on every call. Reloaded as
 * PostgREST reloads it — on `NOTIFY pgrst, 'reload schema'` (or an empty payload), and when the
 * listening connection comes back (notifications may have been missed meanwhile) — and, beyond
 * PostgREST, whenever a call names a function or arguments the cache does not know, so a
 * function created after start is callable at once.
 */

export type ResultShape = "void" | "scalar" | "object" | "setof-scalar" | "setof-object";

export interface FunctionArg {
  name: string;
  type: string;
  hasDefault: boolean;
}

/** One overload of a function, as the RPC endpoint needs it to build the call. */
export interface FunctionSignature {
  shape: ResultShape;
  /** The input parameters, in order. */
  args: FunctionArg[];
}

interface ProcRow {
  name: string;
  retset: boolean;
  rettype: string;
  typtype: string;
  ndefaults: number;
  argnames: string[] | null;
  argmodes: string[] | null;
  argtypes: string[];
}

/** The channel and payloads PostgREST listens for (`db-channel`). */
export const RELOAD_CHANNEL = "pgrst";
const RELOAD_PAYLOADS = new Set(["", "reload schema"]);

const PROCS_QUERY = `
  select p.proname::text as name,
         p.proretset as retset,
         format_type(p.prorettype, null) as rettype,
         t.typtype::text as typtype,
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
  where n.nspname = $1 and p.prokind = 'f'`;

export class SchemaCache {
  readonly schema: string;
  #sql: postgres.Sql;
  #functions = new Map<string, FunctionSignature[]>();
  #loads = 0;
  #running: Promise<void> | undefined;
  #queued: Promise<void> | undefined;

  /** Listens for reloads, then loads: a notification sent while loading is not lost. */
  static async start(sql: postgres.Sql, schema: string): Promise<SchemaCache> {
    const cache = new SchemaCache(sql, schema);
    let listening = false;
    await sql.listen(RELOAD_CHANNEL, (payload) => {
      if (RELOAD_PAYLOADS.has(payload.trim())) cache.reload().catch(logReloadFailure);
    }, () => {
      // Called again after each reconnect of the listening connection.
      if (listening) cache.reload().catch(logReloadFailure);
      listening = true;
    });
    await cache.reload();
    return cache;
  }

  private constructor(sql: postgres.Sql, schema: string) {
    this.#sql = sql;
    this.schema = schema;
  }

  /** The overloads of `name` as of the last load; empty when it is unknown. */
  signatures(name: string): FunctionSignature[] {
    return this.#functions.get(name) ?? [];
  }

  /** How many loads have completed (the tests watch reloads with it). */
  get loads(): number {
    return this.#loads;
  }

  /**
   * Resolves after a load that started after this call. Concurrent callers share one load:
   * while one runs, at most one more is queued behind it.
   */
  reload(): Promise<void> {
    if (this.#queued) return this.#queued;
    if (!this.#running) {
      this.#running = this.#load().finally(() => (this.#running = undefined));
      return this.#running;
    }
    this.#queued = this.#running.catch(() => {}).then(() => {
      this.#queued = undefined;
      return this.reload();
    });
    return this.#queued;
  }

  async #load(): Promise<void> {
    const rows = await this.#sql.unsafe<ProcRow[]>(PROCS_QUERY, [this.schema]);
    const functions = new Map<string, FunctionSignature[]>();
    for (const row of rows) {
      const overloads = functions.get(row.name) ?? [];
      overloads.push(describe(row));
      functions.set(row.name, overloads);
    }
    this.#functions = functions;
    this.#loads++;
  }
}

function logReloadFailure(error: unknown): void {
  // The previous cache stays in use; the next miss or notification tries again.
  console.error("rpc: schema cache reload failed:", error);
}

function describe(row: ProcRow): FunctionSignature {
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
  return { shape, args };
}
