import { parse } from "npm:smol-toml@1.9.1";
import { z } from "npm:zod@4.6.7";
import { dirname, resolve } from "node:path";

/** The parts of supabase/config.toml the local stack honours; the rest is for `supabase start`. */
const ConfigSchema = z.object({
  api: z.object({
    schemas: z.array(z.string()).default(["public"]),
    extra_search_path: z.array(z.string()).default(["public", "extensions"]),
  }).partial().default({}),
  auth: z.object({ signing_keys_path: z.string().min(1).optional() }).loose().default({}),
  functions: z.record(
    z.string(),
    z.object({ verify_jwt: z.boolean().optional() }).loose(),
  ).default({}),
}).loose();

export interface SupabaseConfig {
  schema: string;
  extraSearchPath: string[];
  /** `[auth] signing_keys_path`, resolved against the file's folder as the Supabase CLI does. */
  signingKeysPath: string | undefined;
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
    signingKeysPath: config.auth.signing_keys_path === undefined
      ? undefined
      : resolve(dirname(path), config.auth.signing_keys_path),
    verifyJwt: (name) => config.functions[name]?.verify_jwt ?? true,
  };
}
