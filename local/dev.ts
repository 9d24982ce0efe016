/**
 * `deno task dev`: the Docker-free local Supabase (README: "The local stack"). Postgres (DATABASE_URL, else a
 * throwaway cluster) → bootstrap + migrations + seed → gateway, Stripe emulator and one
 * process per function → a status block like `supabase status`. Ctrl-C / SIGTERM stop
 * everything: no postgres, no deno child, no temp dir is left behind.
 */
import { prepareDatabase } from "./stack/database.ts";
import { parseDevEnv } from "./stack/dev_config.ts";
import { installExitHandlers, registerExitCleanup, runExitCleanups } from "./stack/exit.ts";
import { startPostgres } from "./stack/postgres.ts";
import { createDemoRoutes } from "./demo/routes.ts";
import { startStack } from "./stack/stack.ts";

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
    signingKeysPath: env.SUPABASE_SIGNING_KEYS_PATH,
    stripeApiBase: env.STRIPE_API_BASE,
    stripeSecretKey: env.STRIPE_SECRET_KEY,
    stripeWebhookSecret: env.STRIPE_WEBHOOK_SECRET,
    emulatorPort: env.STRIPE_EMULATOR_PORT,
    allowedOrigins: env.ALLOWED_ORIGINS,
    functionEnv: env.functionEnv,
    extraRoutes: demo.handle,
    outboxWebhookUrl: env.OUTBOX_WEBHOOK_URL,
    outboxWebhookSecret: env.OUTBOX_WEBHOOK_SECRET,
    outboxIntervalSeconds: env.OUTBOX_INTERVAL_SECONDS,
    reconcileIntervalSeconds: env.RECONCILE_INTERVAL_SECONDS,
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
    ["Publishable key", stack.publishableKey],
    ["Secret key", stack.secretKey],
    ["JWKS URL", stack.jwksUrl],
    ["JWT secret (legacy)", stack.jwtSecret],
    ["anon key (legacy)", stack.anonKey],
    ["service_role key (legacy)", stack.serviceRoleKey],
    ["Stripe secret key", stack.stripeSecretKey],
    ["Webhook secret", stack.webhookSecret],
    ["Outbox URL", stack.outboxWebhookUrl],
    ["Outbox secret", stack.outboxSink.secret],
    [
      "Schedules",
      `outbox-dispatch ${every(env.OUTBOX_INTERVAL_SECONDS)}, stripe-reconcile ${
        every(env.RECONCILE_INTERVAL_SECONDS)
      }`,
    ],
    ["Postgres", server.description],
    ["Dev pid", String(Deno.pid)],
  ];
  const width = Math.max(...rows.map(([label]) => label.length));
  console.log(`\nLocal stack healthy after ${seconds} s.\n`);
  for (const [label, value] of rows) console.log(`${label.padStart(width)}: ${value}`);
  console.log(`\nPress Ctrl-C to stop.`);
}

function every(seconds: number): string {
  return seconds === 0 ? "off" : `every ${seconds} s`;
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
