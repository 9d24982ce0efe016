/**
 * `deno task outbox` / `deno task reconcile`: one pass of outbox-dispatch or
 * stripe-reconcile by hand, as pg_cron would start it — POST with a secret key — and its
 * JSON summary printed. Works against the local stack and hosted Supabase alike.
 *
 *   SUPABASE_URL=… SUPABASE_SECRET_KEY=… deno task outbox
 *
 * SUPABASE_URL defaults to the local gateway (http://127.0.0.1:54321). The functions take
 * a secret key exactly as issued, so it cannot be minted here: pass the sb_secret_… key
 * (or the legacy service_role key, as SUPABASE_SERVICE_ROLE_KEY) that deno task dev printed.
 * Exit code: 0 the pass ran, 1 it reported failures, 2 the call failed.
 */

const FUNCTIONS = ["outbox-dispatch", "stripe-reconcile"];

async function main(): Promise<number> {
  const name = Deno.args[0] ?? "";
  if (!FUNCTIONS.includes(name)) {
    console.error(`usage: invoke.ts <${FUNCTIONS.join("|")}>, got ${JSON.stringify(name)}`);
    return 2;
  }
  const url = (Deno.env.get("SUPABASE_URL") || "http://127.0.0.1:54321").replace(/\/+$/, "");
  const key = Deno.env.get("SUPABASE_SECRET_KEY") || Deno.env.get("SUPABASE_SERVICE_ROLE_KEY");
  if (!key) {
    console.error(
      "set SUPABASE_SECRET_KEY (or SUPABASE_SERVICE_ROLE_KEY) to the key deno task dev printed",
    );
    return 2;
  }
  let response: Response;
  try {
    response = await fetch(`${url}/functions/v1/${name}`, {
      method: "POST",
      headers: { apikey: key, authorization: `Bearer ${key}`, "content-type": "application/json" },
      body: "{}",
    });
  } catch (error) {
    console.error(`${name} at ${url}: ${error instanceof Error ? error.message : error}`);
    return 2;
  }
  const text = await response.text();
  if (!response.ok) {
    console.error(`${name} answered ${response.status}: ${text}`);
    return 2;
  }
  const summary = JSON.parse(text) as Record<string, unknown>;
  console.log(JSON.stringify(summary, null, 2));
  const failed = (summary.failed as number | undefined ?? 0) +
    (summary.dead as number | undefined ?? 0);
  return failed > 0 || summary.stopped === "stripe_error" ? 1 : 0;
}

if (import.meta.main) {
  Deno.exit(await main());
}
