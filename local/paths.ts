/** Absolute paths the local stack needs, independent of the caller's working directory. */
export const PROJECT_ROOT = new URL("..", import.meta.url).pathname.replace(/\/$/, "");
export const SUPABASE_DIR = `${PROJECT_ROOT}/supabase`;
export const FUNCTIONS_DIR = `${SUPABASE_DIR}/functions`;
export const CONFIG_TOML = `${SUPABASE_DIR}/config.toml`;
export const SUPABASE_CLI = `${PROJECT_ROOT}/node_modules/.bin/supabase`;
