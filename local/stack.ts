import postgres from "npm:postgres@3.4.9";
import { CallCounters } from "./counters.ts";
import { discoverFunctions, FunctionProcess } from "./functions.ts";
import { type Gateway, startGateway } from "./gateway.ts";
import { DEFAULT_JWT_SECRET, mintAnonKey, mintServiceRoleKey, mintUserToken } from "./jwt.ts";
import { CONFIG_TOML, FUNCTIONS_DIR } from "./paths.ts";
import { createRpcHandler } from "./rpc.ts";
import {
  DEFAULT_EMULATOR_PORT,
  type Emulator,
  type EmulatorOptions,
  startEmulator,
} from "./stripe-emulator/mod.ts";
import { readSupabaseConfig } from "./supabase_config.ts";

export interface StackOptions {
  /** A database already prepared (local/database.ts prepareDatabase). */
  databaseUrl: string;
  /** Gateway port; 0 → free; default 54321. */
  port?: number;
  jwtSecret?: string;
  /** Set → use that Stripe-compatible server; unset → start the emulator. */
  stripeApiBase?: string;
  /** Default "sk_test_emulator". */
  stripeSecretKey?: string;
  /** Default a fresh "whsec_…"; comma-separated secrets go to the functions as is (rotation). */
  stripeWebhookSecret?: string;
  /** Default 12111; 0 → free. */
  emulatorPort?: number;
  emulatorOptions?: Partial<EmulatorOptions>;
  /** Default "http://localhost:54321,http://127.0.0.1:54321,http://localhost:3000" plus the gateway's own origin. */
  allowedOrigins?: string;
  /** Extra env for every function (e.g. IDEMPOTENCY_LEASE_SECONDS). */
  functionEnv?: Record<string, string>;
  /** Default: every folder of `functionsDir` not starting with "_" and holding index.ts. */
  functions?: string[];
  /** Default supabase/functions; tests point it at fixtures. */
  functionsDir?: string;
  /** Default supabase/config.toml (verify_jwt per function, API schemas). */
  configToml?: string;
  /** Capture function output instead of forwarding it; also quiets the emulator. */
  quiet?: boolean;
  /** Tried before the built-in routes (dev mounts the demo shop here); undefined falls through. */
  extraRoutes?: (request: Request) => Response | undefined | Promise<Response | undefined>;
}

export interface Stack {
  apiUrl: string;
  functionsUrl: string;
  dbUrl: string;
  stripeUrl: string;
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  stripeSecretKey: string;
  webhookSecret: string;
  emulator?: Emulator;
  counters: { rpc(name?: string): number; functions(name?: string): number; reset(): void };
  mintUserToken(
    opts: { sub: string; email?: string; role?: string; expiresInSeconds?: number },
  ): Promise<string>;
  /** SIGKILL, as a crash; requests to it get 503 until startFunction. */
  killFunction(name: string): Promise<void>;
  /** (Re)start and wait until it answers. */
  startFunction(name: string): Promise<void>;
  stop(): Promise<void>;
  [Symbol.asyncDispose](): Promise<void>;
}

export const DEFAULT_GATEWAY_PORT = 54321;
export const DEFAULT_STRIPE_SECRET_KEY = "sk_test_emulator";
export const DEFAULT_ALLOWED_ORIGINS =
  "http://localhost:54321,http://127.0.0.1:54321,http://localhost:3000";
const HEALTH_TIMEOUT_MS = 60_000;
/** RPC connections; more calls than this queue in the pool rather than fail. */
const RPC_POOL_SIZE = 20;

/** Gateway → emulator (webhooks to the gateway) → functions (Stripe at the emulator) → /health. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const jwtSecret = options.jwtSecret ?? DEFAULT_JWT_SECRET;
  const stripeSecretKey = options.stripeSecretKey ?? DEFAULT_STRIPE_SECRET_KEY;
  const webhookSecret = options.stripeWebhookSecret ?? freshWebhookSecret();
  const functionsDir = options.functionsDir ?? FUNCTIONS_DIR;
  const config = await readSupabaseConfig(options.configToml ?? CONFIG_TOML);
  const names = options.functions ?? await discoverFunctions(functionsDir);
  const [anonKey, serviceRoleKey] = await Promise.all([
    mintAnonKey(jwtSecret),
    mintServiceRoleKey(jwtSecret),
  ]);
  const stackId = crypto.randomUUID();
  const rpcCounters = new CallCounters();
  const functionCounters = new CallCounters();
  const processes = new Map<string, FunctionProcess>();

  const cleanups: (() => Promise<void>)[] = [];
  const runCleanups = async () => {
    while (cleanups.length > 0) {
      const cleanup = cleanups.pop();
      await cleanup?.().catch((error) => console.error("stack cleanup failed:", error));
    }
  };

  try {
    const sql = postgres(options.databaseUrl, {
      max: RPC_POOL_SIZE,
      onnotice: () => {},
      // Keep the pool from holding the database open forever after a crash of this process.
      idle_timeout: 30,
    });
    cleanups.push(() => sql.end({ timeout: 5 }));

    const gateway: Gateway = await startGateway({
      port: options.port ?? DEFAULT_GATEWAY_PORT,
      jwtSecret,
      rpc: createRpcHandler({
        sql,
        jwtSecret,
        schema: config.schema,
        extraSearchPath: config.extraSearchPath,
        onCall: (name) => rpcCounters.increment(name),
      }),
      functions: {
        names: () => names,
        url: (name) => processes.get(name)?.url,
        verifyJwt: (name) => config.verifyJwt(name),
        answers: (name) => processes.get(name)?.answers() ?? Promise.resolve(false),
      },
      onFunctionCall: (name) => functionCounters.increment(name),
      quiet: options.quiet,
      extraRoutes: options.extraRoutes,
    });
    cleanups.push(() => gateway.shutdown());

    const emulator = options.stripeApiBase ? undefined : await startEmulator({
      port: options.emulatorPort ?? DEFAULT_EMULATOR_PORT,
      webhookEndpoint: `${gateway.url}/functions/v1/stripe-webhook`,
      // The emulator signs with one secret; the first is the current one during a rotation.
      webhookSecret: webhookSecret.split(",")[0]?.trim() || webhookSecret,
      secretKey: stripeSecretKey,
      quiet: options.quiet,
      ...options.emulatorOptions,
    });
    if (emulator) cleanups.push(() => emulator.stop());
    const stripeUrl = emulator?.url ?? options.stripeApiBase ?? "";

    const allowedOrigins = withOrigin(
      options.allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS,
      gateway.url,
    );
    const env: Record<string, string> = {
      SUPABASE_URL: gateway.url,
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
      SUPABASE_JWT_SECRET: jwtSecret,
      SUPABASE_DB_URL: options.databaseUrl,
      STRIPE_SECRET_KEY: stripeSecretKey,
      STRIPE_API_BASE: stripeUrl,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      ALLOWED_ORIGINS: allowedOrigins,
      ...options.functionEnv,
    };
    for (const name of names) {
      processes.set(
        name,
        new FunctionProcess({
          name,
          entrypoint: `${functionsDir}/${name}/index.ts`,
          env,
          quiet: options.quiet,
          stackId,
        }),
      );
    }
    cleanups.push(async () => {
      await Promise.all([...processes.values()].map((process) => process.stop()));
    });
    await Promise.all([...processes.values()].map((process) => process.start()));
    await waitForHealth(gateway.url);

    const functionProcess = (name: string) => {
      const process = processes.get(name);
      if (!process) {
        throw new Error(`unknown function ${name}; the stack serves ${names.join(", ")}`);
      }
      return process;
    };
    let stopped: Promise<void> | undefined;
    const stop = () => (stopped ??= runCleanups());
    return {
      apiUrl: gateway.url,
      functionsUrl: `${gateway.url}/functions/v1`,
      dbUrl: options.databaseUrl,
      stripeUrl,
      anonKey,
      serviceRoleKey,
      jwtSecret,
      stripeSecretKey,
      webhookSecret,
      emulator,
      counters: {
        rpc: (name) => rpcCounters.count(name),
        functions: (name) => functionCounters.count(name),
        reset: () => {
          rpcCounters.reset();
          functionCounters.reset();
        },
      },
      mintUserToken: (opts) =>
        mintUserToken({
          sub: opts.sub,
          email: opts.email,
          role: opts.role,
          expiresIn: opts.expiresInSeconds,
          issuer: `${gateway.url}/auth/v1`,
        }, jwtSecret),
      killFunction: (name) => functionProcess(name).kill(),
      startFunction: (name) => functionProcess(name).start(),
      stop,
      [Symbol.asyncDispose]: stop,
    };
  } catch (error) {
    await runCleanups();
    throw error;
  }
}

async function waitForHealth(apiUrl: string): Promise<void> {
  const deadline = Date.now() + HEALTH_TIMEOUT_MS;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const response = await fetch(`${apiUrl}/health`);
      last = await response.text();
      if (response.ok) return;
    } catch (error) {
      last = String(error);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`the stack did not become healthy within ${HEALTH_TIMEOUT_MS} ms: ${last}`);
}

function freshWebhookSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(24));
  return `whsec_${btoa(String.fromCharCode(...bytes)).replace(/[+/=]/g, "")}`;
}

/** The gateway's own origin is always allowed, so a page it serves can redirect back to itself. */
function withOrigin(origins: string, apiUrl: string): string {
  const list = origins.split(",").map((origin) => origin.trim()).filter(Boolean);
  const own = new URL(apiUrl).origin;
  return (list.includes(own) ? list : [...list, own]).join(",");
}
