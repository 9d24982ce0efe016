/**
 * `deno task dev`: the Docker-free local Supabase (SPEC §7). Postgres (DATABASE_URL, else a
 * throwaway cluster) → bootstrap + migrations + seed → gateway, Stripe emulator and one
 * process per function → a status block like `supabase status`. Ctrl-C / SIGTERM stop
 * everything: no postgres, no deno child, no temp dir is left behind.
 */
import { prepareDatabase } from "./database.ts";
import { parseDevEnv } from "./dev_config.ts";
import { installExitHandlers, registerExitCleanup, runExitCleanups } from "./exit.ts";
import { startPostgres } from "./postgres.ts";
import { createDemoRoutes } from "./demo/routes.ts";
import { startStack } from "./stack.ts";

async function main(): Promise<void> {
  const startedAt = performance.now();
  const env = parseDevEnv(Deno.env.toObject());
  installExitHandlers((signal) => console.log(`\n${signal}: stopping the local stack…`));

  const server = await startPostgres({ databaseUrl: env.DATABASE_URL });
  registerExitCleanup({ name: "postgres", run: () => server.stop(), runSync: () => {} });
  await prepareDatabase(server.adminUrl);
  const demo = createDemoRoutes();
  const stack = await startStack({
    databaseUrl: server.adminUrl,
    port: env.PORT,
    jwtSecret: env.SUPABASE_JWT_SECRET,
    stripeApiBase: env.STRIPE_API_BASE,
    stripeSecretKey: env.STRIPE_SECRET_KEY,
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET,
    emulatorPort: env.STRIPE_EMULATOR_PORT,
    allowedOrigins: env.ALLOWED_ORIGINS,
    functionEnv: env.functionEnv,
    extraRoutes: demo.handle,
  });
  demo.attach(stack);
  // Registered after postgres, so it runs first: functions stop before their database does.
  registerExitCleanup({ name: "stack", run: () => stack.stop(), runSync: () => {} });
  const seconds = ((performance.now() - startedAt) / 1000).toFixed(1);

  const rows: [string, string][] = [
    ["Demo shop", `${stack.apiUrl}/`],
    ["API URL", stack.apiUrl],
    ["Functions URL", stack.functionsUrl],
    ["RPC URL", `${stack.apiUrl}/rest/v1/rpc/<function>`],
    ["DB URL", stack.dbUrl],
    ["Stripe URL", `${stack.stripeUrl}${stack.emulator ? " (emulator)" : ""}`],
    ["JWT secret", stack.jwtSecret],
    ["anon key", stack.anonKey],
    ["service_role key", stack.serviceRoleKey],
    ["Stripe secret key", stack.stripeSecretKey],
    ["Webhook secret", stack.webhookSecret],
    [
      "Postgres",
      server.ownsCluster
        ? `throwaway cluster in ${server.tempDir} (pid ${server.pid})`
        : "DATABASE_URL",
    ],
    ["Dev pid", String(Deno.pid)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\nLocal stack healthy after ${seconds} s.\n`);
  for (const [label, value] of rows) console.log(`${label.padStart(width)}: ${value}`);
  console.log(`\nPress Ctrl-C to stop.`);
}

if (import.meta.main) {
  try {
    await main();
  } catch (error) {
    console.error(error instanceof Error ? error.message : error);
    await runExitCleanups();
    Deno.exit(1);
  }
}
