/** Absolute paths the local stack needs, independent of the caller's working directory. */
export const PROJECT_ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");
export const SUPABASE_DIR = `${PROJECT_ROOT}/supabase`;
export const FUNCTIONS_DIR = `${SUPABASE_DIR}/functions`;
export const CONFIG_TOML = `${SUPABASE_DIR}/config.toml`;
export const SUPABASE_CLI = `${PROJECT_ROOT}/node_modules/.bin/supabase`;

/** Whether anything (file, directory, link target) is at `path`. */
export async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}
