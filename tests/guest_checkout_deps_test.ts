/**
 * guest-checkout never builds, loads or fails on the user verifier it has no use for:
 * its runtime module graph stops short of `_shared/auth.ts` (and the JWT libraries),
 * and it serves checkouts with the user-auth variables absent or even malformed.
 */
import assert from "node:assert/strict";
import { startTestStack } from "./harness.ts";
import { callCheckout, INTEGRATION } from "./checkout_helpers.ts";

const FUNCTIONS = new URL("../supabase/functions/", import.meta.url);

interface InfoModule {
  specifier: string;
  dependencies?: { code?: { specifier: string } }[];
}

/** Every module `entry` loads at run time: type-only imports are not followed. */
async function runtimeModules(entry: URL): Promise<Set<string>> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", entry.pathname],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(output.success, "deno info failed");
  const { modules } = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: InfoModule[];
  };
  const bySpecifier = new Map(modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const dep of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (dep.code) visit(dep.code.specifier);
    }
  };
  visit(entry.href);
  return seen;
}

const verifierParts = (modules: Set<string>) =>
  [...modules].filter((m) =>
    m.endsWith("/_shared/auth.ts") || m.includes("@supabase/server") || m.includes("jose")
  );

Deno.test("guest-checkout loads no user verifier", async () => {
  const guest = await runtimeModules(new URL("guest-checkout/index.ts", FUNCTIONS));
  assert.ok([...guest].some((m) => m.endsWith("/_shared/checkout_flow.ts")), "graph walked");
  assert.deepEqual(verifierParts(guest), []);
  // The check can fail: enhanced-checkout's graph does hold the verifier.
  const enhanced = await runtimeModules(new URL("enhanced-checkout/index.ts", FUNCTIONS));
  assert.ok(verifierParts(enhanced).some((m) => m.endsWith("/_shared/auth.ts")));
});

Deno.test(
  "guest-checkout serves a checkout with malformed user-auth variables",
  INTEGRATION,
  async () => {
    await using stack = await startTestStack({
      functions: ["guest-checkout"],
      functionEnv: {
        SUPABASE_JWKS: "{not a key set",
        SUPABASE_JWT_SECRET: undefined,
        JWT_SECRET: undefined,
        ALLOW_ANONYMOUS_USERS: "perhaps",
      },
    });
    const created = await callCheckout(stack, "guest-checkout", {});
    assert.equal(created.status, 201, created.text);
  },
);
