import { exitInProgress, registerExitCleanup } from "./exit.ts";
import { HEALTH_HEADER, LISTENING_MARKER } from "./function_runner.ts";
import { PROJECT_ROOT } from "./paths.ts";

const RUNNER = new URL("./function_runner.ts", import.meta.url).pathname;
/**
 * V8 favours memory over speed in every function process: without it V8 lets a busy function's
 * garbage take its RSS to about 200 MB before collecting; with it the RSS stays near 95 MB
 * (README, Benchmarks). The heap is not capped: a hard cap (150 or 256 MB) made stripe-webhook
 * run out of memory under 400 or 1,000 concurrent 1 MiB bodies.
 */
const FUNCTION_V8_FLAGS = "--optimize-for-size";
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 2_000;
/**
 * Supervision: a process that exits unasked is booted again (after RESTART_DELAY_MS, so a
 * Ctrl-C that reached it reaches this process first). One that fails to boot, or exits within
 * STABLE_AFTER_MS of booting, is retried after BACKOFF_BASE_MS, doubling up to BACKOFF_MAX_MS.
 */
const RESTART_DELAY_MS = 100;
const STABLE_AFTER_MS = 2_000;
const BACKOFF_BASE_MS = 500;
const BACKOFF_MAX_MS = 30_000;
/** Output kept from a quiet child, to explain a failed start. */
const OUTPUT_TAIL_CHARS = 8_192;
/**
 * The only variables a function inherits from the caller: what Deno needs to find its cache
 * and node_modules, write temp files and reach the network. Anything else in the caller's shell
 * (say IDEMPOTENCY_LEASE_SECONDS) would silently change the function's config, so a stack's
 * functions see exactly what the stack passes them.
 */
const INHERITED_ENV = [
  "PATH",
  "HOME",
  "XDG_CACHE_HOME",
  "TMPDIR",
  "TMP",
  "TEMP",
  "NO_COLOR",
  "HTTP_PROXY",
  "HTTPS_PROXY",
  "NO_PROXY",
  "http_proxy",
  "https_proxy",
  "no_proxy",
  "SSL_CERT_FILE",
  "SSL_CERT_DIR",
];
/** Deno's own settings (DENO_DIR, DENO_CERT, DENO_TLS_CA_STORE, …), never read by a function. */
const INHERITED_ENV_PREFIX = "DENO_";

export interface FunctionProcessOptions {
  name: string;
  /** Absolute path of the function's `index.ts`. */
  entrypoint: string;
  /** The function's whole environment, apart from the runtime variables of INHERITED_ENV. */
  env: Record<string, string>;
  /** Capture output instead of forwarding it with a `[name]` prefix. */
  quiet?: boolean;
  /** Put on the child's command line so leftovers of one stack can be found by `ps`. */
  stackId: string;
}

/**
 * `up`: answering; `starting`: booting; `backoff`: exited, the next boot is scheduled;
 * `stopped`: not started yet, or held down by kill()/stop() (no restarts).
 */
export type FunctionState = "up" | "starting" | "backoff" | "stopped";

/** What /health says about one function process. */
export interface FunctionReport {
  state: FunctionState;
  pid: number | null;
  /** Boots after the first, successful or not, since the last start(). */
  restarts: number;
  /** How the last process ended unasked, or why its last boot failed. */
  last_exit: string | null;
  /** While in backoff: when the next boot is due. */
  retry_in_ms?: number;
}

/**
 * One edge function in its own Deno process, supervised like the edge runtime's workers: when
 * it dies (an uncaught error, an OOM, a kill) it is booted again, and a request that arrives
 * meanwhile waits for the boot; a process that keeps crashing at boot is retried with backoff.
 */
export class FunctionProcess {
  readonly name: string;
  #options: FunctionProcessOptions;
  #child: Deno.ChildProcess | undefined;
  #port: number | undefined;
  #exited: Promise<void> = Promise.resolve();
  #outputTail = "";
  #state: FunctionState = "stopped";
  /** Set by start(), cleared by kill()/stop(): only a supervised process is restarted. */
  #supervised = false;
  /** Children this object killed on purpose; their exit is not a crash. */
  #killed = new WeakSet<Deno.ChildProcess>();
  #upSince = 0;
  #restarts = 0;
  #failures = 0;
  #lastExit: string | null = null;
  #booting: Promise<void> | undefined;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #retryAt = 0;

  constructor(options: FunctionProcessOptions) {
    this.name = options.name;
    this.#options = options;
  }

  /** The base URL while the process is up, else undefined. */
  get url(): string | undefined {
    return this.#child && this.#port ? `http://127.0.0.1:${this.#port}` : undefined;
  }

  /** The running (or booting) process's pid; undefined while down. */
  get pid(): number | undefined {
    return this.#state === "up" || this.#state === "starting" ? this.#child?.pid : undefined;
  }

  /** (Re)starts the process and supervises it; resolves once it listens and answers. */
  async start(): Promise<void> {
    await this.kill();
    this.#restarts = 0;
    this.#failures = 0;
    this.#lastExit = null;
    await this.#boot();
    this.#supervised = true;
  }

  /** The base URL to send a request to: waits for a boot in progress; undefined while down. */
  async target(): Promise<string | undefined> {
    // Exited after running a while: booted again on this request rather than after the delay.
    if (this.#state === "backoff" && this.#failures === 0) this.#reboot();
    await this.#booting?.catch(() => {});
    return this.#state === "up" ? this.url : undefined;
  }

  report(): FunctionReport {
    return {
      state: this.#state,
      pid: this.pid ?? null,
      restarts: this.#restarts,
      last_exit: this.#lastExit,
      ...(this.#state === "backoff"
        ? { retry_in_ms: Math.max(0, Math.round(this.#retryAt - Date.now())) }
        : {}),
    };
  }

  async #boot(): Promise<void> {
    this.#state = "starting";
    this.#outputTail = "";
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-check",
        "--no-prompt",
        "--allow-net",
        "--allow-env",
        "--allow-read",
        `--v8-flags=${FUNCTION_V8_FLAGS}`,
        RUNNER,
        this.#options.entrypoint,
        `--ic-stack=${this.#options.stackId}`,
      ],
      cwd: PROJECT_ROOT,
      clearEnv: true,
      env: { ...runtimeEnv(), ...this.#options.env },
      // Held open so the child notices when this process dies without killing it.
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#child = child;
    const pid = child.pid;
    const unregister = registerExitCleanup({
      name: `function ${this.name} (pid ${pid})`,
      run: () => this.kill(),
      runSync: () => {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch {
          // Already gone.
        }
      },
    });

    let listening!: (port: number) => void;
    const listeningPromise = new Promise<number>((resolve) => (listening = resolve));
    const stdoutDone = this.#pump(child.stdout, "stdout", (line) => {
      if (!line.startsWith(LISTENING_MARKER)) return false;
      listening(Number(line.slice(LISTENING_MARKER.length).trim()));
      return true;
    });
    const stderrDone = this.#pump(child.stderr, "stderr", () => false);
    const status = child.status;
    this.#exited = Promise.all([status, stdoutDone, stderrDone]).then(() => {
      if (this.#child === child) {
        this.#child = undefined;
        this.#port = undefined;
      }
    });
    status.then((result) => {
      unregister();
      this.#onExit(child, result);
    });

    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      this.#port = await Promise.race([
        listeningPromise,
        status.then((s) => {
          throw new Error(`exited with code ${s.code} before listening`);
        }),
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new Error(`did not listen within ${START_TIMEOUT_MS} ms`)),
            START_TIMEOUT_MS,
          );
        }),
      ]);
      if (!(await this.answers())) throw new Error("listens but does not answer");
      this.#state = "up";
      this.#upSince = Date.now();
    } catch (error) {
      await this.#terminate("SIGKILL");
      this.#state = "stopped";
      throw new Error(
        `function ${this.name} failed to start: ${error instanceof Error ? error.message : error}${
          this.#outputTail ? `\n${this.#outputTail}` : ""
        }`,
      );
    } finally {
      clearTimeout(timer);
    }
  }

  /** A child ended: unless we killed it or are stopping, log it and boot a fresh one. */
  #onExit(child: Deno.ChildProcess, status: Deno.CommandStatus): void {
    // A boot in progress reports its own failure; a killed child was meant to go.
    if (this.#killed.has(child) || this.#state !== "up" || !this.#supervised) return;
    const ran = Date.now() - this.#upSince;
    this.#lastExit = `pid ${child.pid} ${describeExit(status)} after ${seconds(ran)}`;
    this.#failures = ran < STABLE_AFTER_MS ? this.#failures + 1 : 0;
    this.#port = undefined;
    const delay = this.#scheduleReboot();
    this.#log(
      `function ${this.name} (${this.#lastExit}); restarting ${
        delay <= RESTART_DELAY_MS ? "now" : `in ${seconds(delay)}`
      }`,
    );
  }

  /** Backoff by consecutive failures; returns the delay. */
  #scheduleReboot(): number {
    const delay = this.#failures === 0
      ? RESTART_DELAY_MS
      : Math.min(BACKOFF_MAX_MS, BACKOFF_BASE_MS * 2 ** (this.#failures - 1));
    this.#state = "backoff";
    this.#retryAt = Date.now() + delay;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#reboot(), delay);
    return delay;
  }

  #reboot(): void {
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    if (this.#booting || !this.#supervised || exitInProgress()) return;
    this.#restarts++;
    this.#booting = this.#boot().then(
      () =>
        this.#log(`function ${this.name} restarted (pid ${this.pid}, restart ${this.#restarts})`),
      (error) => {
        if (!this.#supervised) return;
        this.#failures++;
        const message = error instanceof Error ? error.message : String(error);
        this.#lastExit = message.split("\n")[0] ?? message;
        const delay = this.#scheduleReboot();
        this.#log(
          `${message}\nfunction ${this.name}: boot ${this.#restarts} failed (${this.#failures} in a row); next attempt in ${
            seconds(delay)
          }`,
        );
      },
    ).finally(() => (this.#booting = undefined));
  }

  /** The supervisor's lines go to stderr, unless the stack is quiet (tests read /health). */
  #log(line: string): void {
    if (!this.#options.quiet) console.error(`[supervisor] ${line}`);
  }

  /** True when the process is up and its server responds (the runner answers, not the function). */
  async answers(timeoutMs = 2_000): Promise<boolean> {
    const url = this.url;
    if (!url) return false;
    try {
      const response = await fetch(`${url}/`, {
        headers: { [HEALTH_HEADER]: "1" },
        signal: AbortSignal.timeout(timeoutMs),
      });
      await response.body?.cancel();
      return response.ok;
    } catch {
      return false;
    }
  }

  /**
   * SIGKILL, as a crash would (no graceful shutdown, in-flight requests are cut off), and hold
   * it down: the supervisor does not restart it until start().
   */
  async kill(): Promise<void> {
    await this.#holdDown("SIGKILL");
  }

  /** SIGTERM, then SIGKILL if it has not exited after a short grace period; no restart. */
  async stop(): Promise<void> {
    await this.#holdDown("SIGTERM");
  }

  async #holdDown(signal: Deno.Signal): Promise<void> {
    this.#supervised = false;
    clearTimeout(this.#retryTimer);
    this.#retryTimer = undefined;
    await this.#terminate(signal);
    await this.#booting?.catch(() => {});
    this.#state = "stopped";
  }

  async #terminate(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) {
      await this.#exited;
      return;
    }
    this.#killed.add(child);
    this.#port = undefined;
    try {
      child.kill(signal);
    } catch {
      // Already exited.
    }
    const timer = signal === "SIGKILL" ? undefined : setTimeout(() => {
      try {
        child.kill("SIGKILL");
      } catch {
        // Exited meanwhile.
      }
    }, STOP_GRACE_MS);
    await child.stdin.close().catch(() => {});
    await this.#exited;
    clearTimeout(timer);
  }

  async #pump(
    stream: ReadableStream<Uint8Array>,
    kind: "stdout" | "stderr",
    intercept: (line: string) => boolean,
  ): Promise<void> {
    const prefix = `[${this.name}] `;
    let pending = "";
    const emit = (line: string) => {
      if (intercept(line)) return;
      this.#outputTail = (this.#outputTail + line + "\n").slice(-OUTPUT_TAIL_CHARS);
      if (this.#options.quiet) return;
      if (kind === "stdout") console.log(prefix + line);
      else console.error(prefix + line);
    };
    try {
      const decoder = new TextDecoder();
      for await (const chunk of stream) {
        pending += decoder.decode(chunk, { stream: true });
        let newline: number;
        while ((newline = pending.indexOf("\n")) >= 0) {
          emit(pending.slice(0, newline));
          pending = pending.slice(newline + 1);
        }
      }
    } catch {
      // The process was killed mid-write; whatever arrived has been emitted.
    }
    if (pending) emit(pending);
  }
}

function describeExit(status: Deno.CommandStatus): string {
  return status.signal ? `killed by ${status.signal}` : `exited with code ${status.code}`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

function runtimeEnv(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(Deno.env.toObject()).filter(([name]) =>
      INHERITED_ENV.includes(name) || name.startsWith(INHERITED_ENV_PREFIX)
    ),
  );
}

/** Function folders: not starting with `_` (shared code) and holding an `index.ts`. */
export async function discoverFunctions(functionsDir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(functionsDir)) {
    if (!entry.isDirectory || entry.name.startsWith("_") || entry.name.startsWith(".")) continue;
    try {
      if ((await Deno.stat(`${functionsDir}/${entry.name}/index.ts`)).isFile) {
        names.push(entry.name);
      }
    } catch {
      // A folder without index.ts is not a function.
    }
  }
  return names.sort();
}
