import postgres from "npm:postgres@3.4.9";
import { CallCounters } from "./counters.ts";
import { discoverFunctions, FunctionProcess } from "./functions.ts";
import { type Gateway, JWKS_ROUTE, startGateway } from "./gateway.ts";
import { mintUserToken } from "./jwt.ts";
import { createStackKeys } from "./keys.ts";
import { CONFIG_TOML, FUNCTIONS_DIR } from "./paths.ts";
import { createRpcHandler } from "./rpc.ts";
import { SchemaCache } from "./schema_cache.ts";
import {
  DEFAULT_EMULATOR_PORT,
  type Emulator,
  type EmulatorOptions,
  startEmulator,
} from "../stripe-emulator/mod.ts";
import { readSupabaseConfig } from "./supabase_config.ts";
import {
  createOutboxSink,
  freshOutboxSecret,
  OUTBOX_SINK_PATH,
  type OutboxSink,
} from "./outbox_sink.ts";
import { startSchedules } from "./schedules.ts";

export interface StackOptions {
  /** A database already prepared (local/stack/database.ts prepareDatabase). */
  databaseUrl: string;
  /** Gateway port; 0 → free; default 54321. */
  port?: number;
  /** The legacy HS256 secret (legacy anon / service_role keys); default Supabase's local one. */
  jwtSecret?: string;
  /**
   * A JSON array of private JWKs (`supabase gen signing-key`); wins over config.toml's
   * `[auth] signing_keys_path`. Neither → a fresh ES256 key at each start.
   */
  signingKeysPath?: string;
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
  /**
   * Extra env for every function (e.g. IDEMPOTENCY_LEASE_SECONDS); `undefined` removes a
   * variable the stack would set, as on a project that never had it.
   */
  functionEnv?: Record<string, string | undefined>;
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
  /** Where outbox-dispatch delivers; default the stack's own sink (`/_sink/outbox`). */
  outboxWebhookUrl?: string;
  /** Default a fresh whsec_…; the sink verifies with it. */
  outboxWebhookSecret?: string;
  /** Seconds between scheduled runs of outbox-dispatch / stripe-reconcile; 0 or unset = off. */
  outboxIntervalSeconds?: number;
  reconcileIntervalSeconds?: number;
}

export interface Stack {
  apiUrl: string;
  functionsUrl: string;
  dbUrl: string;
  stripeUrl: string;
  /** `sb_publishable_…`: runs as anon. */
  publishableKey: string;
  /** `sb_secret_…`: runs as service_role. */
  secretKey: string;
  /** Where the public signing keys are served, and the keys themselves. */
  jwksUrl: string;
  jwks: { keys: Record<string, unknown>[] };
  /** Legacy HS256 keys, still accepted. */
  anonKey: string;
  serviceRoleKey: string;
  jwtSecret: string;
  stripeSecretKey: string;
  webhookSecret: string;
  /** The stack's outbox receiver, and where outbox-dispatch delivers (it, unless overridden). */
  outboxSink: OutboxSink;
  outboxWebhookUrl: string;
  emulator?: Emulator;
  counters: { rpc(name?: string): number; functions(name?: string): number; reset(): void };
  /** A user access token signed with the stack's signing key (ES256), as GoTrue issues it. */
  mintUserToken(
    opts: {
      sub: string;
      email?: string;
      role?: string;
      expiresInSeconds?: number;
      isAnonymous?: boolean;
      /** Default `<API URL>/auth/v1`, as GoTrue. */
      issuer?: string;
      audience?: string;
    },
  ): Promise<string>;
  /**
   * SIGKILL, as a crash, and held down (the supervisor leaves it alone): requests to it get
   * 503 until startFunction. A process that dies any other way is restarted by the supervisor.
   */
  killFunction(name: string): Promise<void>;
  /** A function's process while it is up (tests crash it by pid; the bench reads its RSS). */
  functionProcess(name: string): { pid: number | undefined; url: string | undefined };
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
/**
 * RPC connections. Few beat many on 2 cores: postgres.js hands calls to idle connections in
 * turn, and a backend that has just run answers faster than one woken from sleep (measured:
 * sequential calls 0.42 ms with 4, 0.63 ms with 20). More calls than this are pipelined onto
 * busy connections (each call is one message, so none holds a transaction open meanwhile).
 */
const RPC_POOL_SIZE = 4;

/** Gateway → emulator (webhooks to the gateway) → functions (Stripe at the emulator) → /health. */
export async function startStack(options: StackOptions): Promise<Stack> {
  const stripeSecretKey = options.stripeSecretKey ?? DEFAULT_STRIPE_SECRET_KEY;
  const webhookSecret = options.stripeWebhookSecret ?? freshWebhookSecret();
  const functionsDir = options.functionsDir ?? FUNCTIONS_DIR;
  const config = await readSupabaseConfig(options.configToml ?? CONFIG_TOML);
  const names = options.functions ?? await discoverFunctions(functionsDir);
  const keys = await createStackKeys({
    jwtSecret: options.jwtSecret,
    signingKeysPath: options.signingKeysPath ?? config.signingKeysPath,
  });
  const { anonKey, serviceRoleKey, jwtSecret, publishableKey, secretKey, jwks } = keys;
  let allowedOrigins: string[] = [];
  const stackId = crypto.randomUUID();
  const rpcCounters = new CallCounters();
  const functionCounters = new CallCounters();
  const processes = new Map<string, FunctionProcess>();
  const outboxSink = createOutboxSink(options.outboxWebhookSecret ?? freshOutboxSecret());

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
    // Loaded before the gateway listens, as PostgREST answers only once its cache is built.
    const schemaCache = await SchemaCache.start(sql, config.schema);

    const gateway: Gateway = await startGateway({
      port: options.port ?? DEFAULT_GATEWAY_PORT,
      jwtSecret,
      jwks,
      allowedOrigins: () => allowedOrigins,
      rpc: createRpcHandler({
        sql,
        keys: { publishableKey, secretKey, jwtSecret, jwks },
        schemaCache,
        extraSearchPath: config.extraSearchPath,
        onCall: (name) => rpcCounters.increment(name),
      }),
      functions: {
        names: () => names,
        url: (name) => processes.get(name)?.target(),
        verifyJwt: (name) => config.verifyJwt(name),
        answers: (name) => processes.get(name)?.answers() ?? Promise.resolve(false),
        report: (name) => processes.get(name)?.report(),
      },
      onFunctionCall: (name) => functionCounters.increment(name),
      quiet: options.quiet,
      extraRoutes: async (request) =>
        await outboxSink.handle(request) ?? await options.extraRoutes?.(request),
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

    allowedOrigins = withOrigin(options.allowedOrigins ?? DEFAULT_ALLOWED_ORIGINS, gateway.url);
    // What a hosted project hands its functions: the new keys, the JWKS, and the legacy keys.
    const env: Record<string, string> = {
      SUPABASE_URL: gateway.url,
      SUPABASE_PUBLISHABLE_KEYS: JSON.stringify({ default: publishableKey }),
      SUPABASE_SECRET_KEYS: JSON.stringify({ default: secretKey }),
      SUPABASE_JWKS: JSON.stringify(jwks),
      SUPABASE_ANON_KEY: anonKey,
      SUPABASE_SERVICE_ROLE_KEY: serviceRoleKey,
      SUPABASE_JWT_SECRET: jwtSecret,
      SUPABASE_DB_URL: options.databaseUrl,
      STRIPE_SECRET_KEY: stripeSecretKey,
      STRIPE_API_BASE: stripeUrl,
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      ALLOWED_ORIGINS: allowedOrigins.join(","),
      OUTBOX_WEBHOOK_URL: options.outboxWebhookUrl ?? `${gateway.url}${OUTBOX_SINK_PATH}`,
      OUTBOX_WEBHOOK_SECRET: outboxSink.secret,
      // Retries a second apart rather than Supabase's 30 s, so a local failure shows quickly.
      OUTBOX_RETRY_BASE_SECONDS: "1",
    };
    for (const [name, value] of Object.entries(options.functionEnv ?? {})) {
      if (value === undefined) delete env[name];
      else env[name] = value;
    }
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
    const schedules = startSchedules({
      functionsUrl: `${gateway.url}/functions/v1`,
      secretKey,
      every: {
        "outbox-dispatch": names.includes("outbox-dispatch")
          ? options.outboxIntervalSeconds ?? 0
          : 0,
        "stripe-reconcile": names.includes("stripe-reconcile")
          ? options.reconcileIntervalSeconds ?? 0
          : 0,
      },
      log: (line) => options.quiet || console.log(line),
    });
    cleanups.push(() => schedules.stop());

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
      publishableKey,
      secretKey,
      jwksUrl: `${gateway.url}${JWKS_ROUTE}`,
      jwks,
      anonKey,
      serviceRoleKey,
      jwtSecret,
      stripeSecretKey,
      webhookSecret,
      outboxSink,
      outboxWebhookUrl: env.OUTBOX_WEBHOOK_URL ?? "",
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
          isAnonymous: opts.isAnonymous,
          issuer: opts.issuer ?? `${gateway.url}/auth/v1`,
          audience: opts.audience,
        }, keys.signingKey),
      functionProcess: (name) => {
        const process = functionProcess(name);
        return { pid: process.pid, url: process.url };
      },
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
function withOrigin(origins: string, apiUrl: string): string[] {
  const list = origins.split(",").map((origin) => origin.trim()).filter(Boolean);
  const own = new URL(apiUrl).origin;
  return list.includes(own) ? list : [...list, own];
}
