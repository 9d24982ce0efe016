import type postgres from "npm:postgres@3.4.9";
import type { Rpc } from "../supabase/functions/_shared/db.ts";

/**
 * An `rpc` function straight onto a test database (no gateway, no function process):
 * named arguments, the answer as PostgREST would encode it (`to_jsonb`). For handlers
 * and helpers tested in-process against the real SQL functions.
 */
export function sqlRpc(sql: postgres.Sql, calls: string[] = []): Rpc {
  return async (name, args) => {
    calls.push(name);
    const entries = Object.entries(args ?? {}).filter(([, v]) => v !== undefined);
    if (!/^[a-z_]+$/.test(name) || entries.some(([k]) => !/^p_[a-z_]+$/.test(k))) {
      throw new Error(`not an RPC call: ${name}(${entries.map(([k]) => k).join(", ")})`);
    }
    const named = entries.map(([k], i) => `${k} => $${i + 1}`).join(", ");
    // postgres.js learns each parameter's type from the server and encodes jsonb itself.
    const values = entries.map(([, v]) => v as postgres.ParameterOrJSON<never>);
    const rows = await sql.unsafe(`select to_jsonb(public.${name}(${named})) as v`, values);
    return rows[0]?.v ?? null;
  };
}
