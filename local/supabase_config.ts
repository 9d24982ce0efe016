import { parse } from "npm:smol-toml@1.9.1";
import { z } from "npm:zod@4.6.7";

/** The parts of supabase/config.toml the local stack honours; the rest is for `supabase start`. */
const ConfigSchema = z.object({
  api: z.object({
    schemas: z.array(z.string()).default(["public"]),
    extra_search_path: z.array(z.string()).default(["public", "extensions"]),
  }).partial().default({}),
  functions: z.record(
    z.string(),
    z.object({ verify_jwt: z.boolean().optional() }).loose(),
  ).default({}),
}).loose();

export interface SupabaseConfig {
  schema: string;
  extraSearchPath: string[];
  /** verify_jwt per function; Supabase's default for an unlisted function is true. */
  verifyJwt(functionName: string): boolean;
}

export async function readSupabaseConfig(path: string): Promise<SupabaseConfig> {
  let raw: unknown;
  try {
    raw = parse(await Deno.readTextFile(path));
  } catch (error) {
    throw new Error(`cannot read ${path}: ${error instanceof Error ? error.message : error}`);
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    throw new Error(`${path} is not a valid Supabase config: ${z.prettifyError(result.error)}`);
  }
  const config = result.data;
  return {
    schema: config.api.schemas?.[0] ?? "public",
    extraSearchPath: config.api.extra_search_path ?? ["public", "extensions"],
    verifyJwt: (name) => config.functions[name]?.verify_jwt ?? true,
  };
}
