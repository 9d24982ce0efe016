/**
 * A stateful Stripe emulator for the calls this suite makes, good enough that the `stripe`
 * SDK cannot tell it from Stripe. See README.md for the control API and the hosted page.
 */
import { createHandler } from "./app.ts";
import { sweepExpired } from "./checkout.ts";
import { EmulatorState } from "./state.ts";

export interface EmulatorOptions {
  /** 0 → a free port; default 12111 (stripe-mock's port, so tooling defaults line up). */
  port?: number;
  /** default "127.0.0.1" */
  hostname?: string;
  /** events are POSTed here when set */
  webhookEndpoint?: string;
  /** "whsec_…" */
  webhookSecret: string;
  /** when set only this key is accepted; else any sk_test_… key */
  secretKey?: string;
  /** compressed backoff schedule between webhook attempts; attempts = length + 1 */
  webhookRetryDelaysMs?: number[];
  /** delayed payment methods settle after this long (real time); negative → only via the control API */
  asyncPaymentDelayMs?: number;
  quiet?: boolean;
}

export interface Emulator {
  /** "http://127.0.0.1:<port>" */
  url: string;
  port: number;
  setWebhookEndpoint(url: string | undefined): void;
  /** stops the server, timers and pending deliveries */
  stop(): Promise<void>;
}

export const DEFAULT_EMULATOR_PORT = 12111;

/** Expiry is also checked on every request; the sweep makes idle sessions expire on time too. */
const EXPIRY_SWEEP_MS = 1000;

export function startEmulator(options: EmulatorOptions): Promise<Emulator> {
  if (!options.webhookSecret) {
    throw new Error("startEmulator: webhookSecret is required (a whsec_… string)");
  }
  const quiet = options.quiet ?? false;
  const log = (message: string) => {
    if (!quiet) console.error(`[stripe-emulator] ${message}`);
  };
  const state = new EmulatorState({
    webhookEndpoint: options.webhookEndpoint,
    webhookSecret: options.webhookSecret,
    retryDelaysMs: options.webhookRetryDelaysMs,
    asyncPaymentDelayMs: options.asyncPaymentDelayMs,
    log,
  });
  const hostname = options.hostname ?? "127.0.0.1";
  const requestedPort = options.port ?? DEFAULT_EMULATOR_PORT;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve(
      { port: requestedPort, hostname, onListen: () => {} },
      createHandler(state, options.secretKey),
    );
  } catch (error) {
    // Deno's own message ("Address already in use (os error 98)") names neither the port
    // nor the setting that picks it.
    if (error instanceof Deno.errors.AddrInUse) {
      throw new Error(
        `the Stripe emulator cannot listen on ${hostname}:${requestedPort}: the port is already ` +
          `in use; stop what holds it (another emulator or stripe-mock?) or set ` +
          `STRIPE_EMULATOR_PORT to another port (0 picks a free one)`,
        { cause: error },
      );
    }
    throw error;
  }
  const port = server.addr.port;
  const publicHost = hostname === "0.0.0.0" || hostname === "::" ? "127.0.0.1" : hostname;
  const url = `http://${publicHost.includes(":") ? `[${publicHost}]` : publicHost}:${port}`;
  state.baseUrl = url;
  state.timers.every(EXPIRY_SWEEP_MS, () => sweepExpired(state));
  log(`listening on ${url}`);
  let stopped: Promise<void> | undefined;
  return Promise.resolve({
    url,
    port,
    setWebhookEndpoint(endpoint: string | undefined) {
      state.webhooks.endpoint = endpoint;
    },
    stop() {
      stopped ??= (async () => {
        state.timers.stopAll();
        await state.webhooks.settle();
        await server.shutdown();
      })();
      return stopped;
    },
  });
}
