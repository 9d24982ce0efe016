import { registerExitCleanup } from "./exit.ts";
import { HEALTH_HEADER, LISTENING_MARKER } from "./function_runner.ts";
import { PROJECT_ROOT } from "./paths.ts";

const RUNNER = new URL("./function_runner.ts", import.meta.url).pathname;
const START_TIMEOUT_MS = 60_000;
const STOP_GRACE_MS = 2_000;
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

/** One edge function in its own Deno process; kill and restart it at will. */
export class FunctionProcess {
  readonly name: string;
  #options: FunctionProcessOptions;
  #child: Deno.ChildProcess | undefined;
  #port: number | undefined;
  #exited: Promise<void> = Promise.resolve();
  #unregister: () => void = () => {};
  #outputTail = "";

  constructor(options: FunctionProcessOptions) {
    this.name = options.name;
    this.#options = options;
  }

  /** The base URL while the process is up, else undefined. */
  get url(): string | undefined {
    return this.#child && this.#port ? `http://127.0.0.1:${this.#port}` : undefined;
  }

  get pid(): number | undefined {
    return this.#child?.pid;
  }

  /** (Re)starts the process; resolves once it listens and answers. */
  async start(): Promise<void> {
    await this.kill();
    this.#outputTail = "";
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-check",
        "--no-prompt",
        "--allow-net",
        "--allow-env",
        "--allow-read",
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
    this.#unregister = registerExitCleanup({
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
    } catch (error) {
      await this.kill();
      throw new Error(
        `function ${this.name} failed to start: ${error instanceof Error ? error.message : error}${
          this.#outputTail ? `\n${this.#outputTail}` : ""
        }`,
      );
    } finally {
      clearTimeout(timer);
    }
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

  /** SIGKILL, as a crash would: no graceful shutdown, in-flight requests are cut off. */
  async kill(): Promise<void> {
    await this.#terminate("SIGKILL");
  }

  /** SIGTERM, then SIGKILL if it has not exited after a short grace period. */
  async stop(): Promise<void> {
    await this.#terminate("SIGTERM");
  }

  async #terminate(signal: Deno.Signal): Promise<void> {
    const child = this.#child;
    if (!child) {
      await this.#exited;
      return;
    }
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
    this.#unregister();
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
