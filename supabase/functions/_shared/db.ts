import { createClient, type SupabaseClient } from "npm:@supabase/supabase-js@2.119.1";
import type { Database, Json } from "./database.types.ts";
import { canonicalJson } from "./canonical_json.ts";

/** The functions' only way into Postgres: RPC calls to SQL functions (SPEC §1). */
export type Db = SupabaseClient<Database>;

type Functions = Database["public"]["Functions"];
export type RpcName = keyof Functions & string;
export type RpcArgs<N extends RpcName> = Functions[N]["Args"];
export type RpcResult<N extends RpcName> = Functions[N]["Returns"];

export function createDb(url: string, serviceRoleKey: string): Db {
  return createClient<Database>(url, serviceRoleKey, {
    auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
  });
}

export class DbError extends Error {
  override name = "DbError";
  constructor(readonly fn: string, readonly code: string | undefined, message: string) {
    super(`rpc ${fn} failed${code ? ` (${code})` : ""}: ${message}`);
  }
}

/** One RPC round trip; a database error throws (and becomes a bare 500 upstream). */
export async function rpc<N extends RpcName>(
  db: Db,
  name: N,
  args: RpcArgs<N>,
): Promise<RpcResult<N>> {
  const { data, error } = await db.rpc(name, args);
  if (error) throw new DbError(name, error.code, error.message);
  return data as RpcResult<N>;
}

/** A value as a jsonb argument: a JSON round trip, so what is stored is what was sent. */
export function asJson(value: unknown): Json {
  return JSON.parse(canonicalJson(value)) as Json;
}
