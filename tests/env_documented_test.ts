/**
 * Every variable a function reads is documented and reaches it under `deno task dev`. The
 * functions read their environment only through `readEnv()` and the zod schemas of the
 * config modules, so the schemas' keys are the whole list; each must appear in README's
 * Configuration table and be either set by the local stack or forwarded from the
 * developer's shell (FUNCTION_SETTINGS).
 */
import assert from "node:assert/strict";
import { FUNCTION_SETTINGS } from "../local/stack/dev_config.ts";

const root = new URL("../", import.meta.url);
const read = (path: string) => Deno.readTextFile(new URL(path, root));

const CONFIG_MODULES = [
  "config.ts",
  "supabase_keys.ts",
  "webhook_config.ts",
  "outbox_config.ts",
  "reconcile_config.ts",
  "status_config.ts",
].map((name) => `supabase/functions/_shared/${name}`);

/** The keys of the config schemas: `NAME: z…` / `NAME: wholeNumber(…)` / `NAME: optional…`. */
async function variablesRead(): Promise<Set<string>> {
  const names = new Set<string>();
  for (const path of CONFIG_MODULES) {
    for (const match of (await read(path)).matchAll(/^\s+([A-Z][A-Z0-9_]{2,}): (?!true)/gm)) {
      if (match[1]) names.add(match[1]);
    }
  }
  return names;
}

async function* sourceFiles(dir: URL): AsyncGenerator<URL> {
  for await (const entry of Deno.readDir(dir)) {
    const url = new URL(entry.name + (entry.isDirectory ? "/" : ""), dir);
    if (entry.isDirectory) yield* sourceFiles(url);
    else if (entry.name.endsWith(".ts") && !entry.name.endsWith("_test.ts")) yield url;
  }
}

Deno.test("the functions read their environment only through readEnv()", async () => {
  const readers: string[] = [];
  for await (const file of sourceFiles(new URL("supabase/functions/", root))) {
    const text = await Deno.readTextFile(file);
    if (/Deno\.env\b/.test(text)) readers.push(file.pathname.slice(root.pathname.length));
  }
  assert.deepEqual(readers, ["supabase/functions/_shared/config.ts"]);
  const config = await read("supabase/functions/_shared/config.ts");
  assert.equal(config.match(/Deno\.env\.[a-zA-Z]+/g)?.join(), "Deno.env.toObject");
});

Deno.test("every variable a function reads is documented and set under deno task dev", async () => {
  const names = await variablesRead();
  // A sanity floor: the parser above found the schemas.
  for (const known of ["SUPABASE_URL", "STRIPE_WEBHOOK_SECRET", "RECONCILE_OVERLAP_SECONDS"]) {
    assert.ok(names.has(known), `${known} not found among ${[...names].join(", ")}`);
  }

  const readme = await read("README.md");
  const table = readme.slice(
    readme.indexOf("## Configuration"),
    readme.indexOf("## The local stack"),
  );
  const stack = await read("local/stack/stack.ts");
  const stackEnv = stack.slice(stack.indexOf("const env: Record<string, string> = {"));
  const forwarded = new Set(FUNCTION_SETTINGS);

  const undocumented = [...names].filter((name) => !table.includes(`\`${name}\``));
  assert.deepEqual(undocumented, [], "read by a function but not in README's Configuration");
  const unset = [...names].filter((name) =>
    !forwarded.has(name) && !new RegExp(`^\\s+${name}:`, "m").test(stackEnv)
  );
  assert.deepEqual(unset, [], "read by a function but neither set nor forwarded by the stack");
});
