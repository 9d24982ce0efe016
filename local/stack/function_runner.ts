/**
 * Runs one edge function's unchanged `index.ts` in this process, as Supabase's edge runtime
 * would: whatever `Deno.serve(...)` form index.ts uses, it is bound to 127.0.0.1 on a port
 * the OS picks, and the port is announced on stdout for local/stack/functions.ts.
 *
 * Usage: deno run --allow-net --allow-env --allow-read local/stack/function_runner.ts <index.ts> [--ic-stack=<id>]
 */

/** The line local/stack/functions.ts waits for; the only stdout line it does not forward. */
export const LISTENING_MARKER = "@@ic-function-listening@@";
/** Requests carrying this header are answered by the runner, never by the function. */
export const HEALTH_HEADER = "x-ic-runner-health";

type Handler = Deno.ServeHandler<Deno.NetAddr>;
type ServeOptions = Record<string, unknown>;

function normalizeServeArguments(args: unknown[]): { options: ServeOptions; handler: Handler } {
  const [first, second] = args;
  if (typeof first === "function") return { options: {}, handler: first as Handler };
  const options = { ...(first as ServeOptions | undefined) };
  const handler = typeof second === "function" ? second : options.handler;
  if (typeof handler !== "function") {
    throw new TypeError("Deno.serve was called without a handler");
  }
  return { options, handler: handler as Handler };
}

function installServe(): void {
  const originalServe = Deno.serve.bind(Deno);
  let announced = false;
  const serve = (...args: unknown[]) => {
    const { options, handler } = normalizeServeArguments(args);
    const { port: _port, hostname: _hostname, path: _path, onListen: _onListen, ...rest } = options;
    return originalServe({
      ...rest,
      hostname: "127.0.0.1",
      port: 0,
      onListen: (addr: Deno.NetAddr) => {
        if (announced) return;
        announced = true;
        console.log(`${LISTENING_MARKER} ${addr.port}`);
      },
    } as Deno.ServeTcpOptions, (request: Request, info: Deno.ServeHandlerInfo<Deno.NetAddr>) => {
      if (request.headers.has(HEALTH_HEADER)) return new Response("ok");
      return handler(request, info);
    });
  };
  Object.defineProperty(Deno, "serve", { value: serve, configurable: true, writable: true });
}

/** Supabase's runtime global; functions may call EdgeRuntime.waitUntil for background work. */
function installEdgeRuntimeShim(): void {
  if ("EdgeRuntime" in globalThis) return;
  Object.defineProperty(globalThis, "EdgeRuntime", {
    value: {
      waitUntil(promise: Promise<unknown>) {
        promise.catch((error) => console.error("EdgeRuntime.waitUntil task failed:", error));
      },
    },
    configurable: true,
  });
}

/** The stack holds our stdin open; EOF means it died without killing us, so we go too. */
async function exitWhenParentGoes(): Promise<void> {
  const buffer = new Uint8Array(64);
  try {
    while ((await Deno.stdin.read(buffer)) !== null) {
      // Nothing is ever sent; reading only detects the close.
    }
  } catch {
    // A broken pipe means the same thing as EOF.
  }
  Deno.exit(0);
}

if (import.meta.main) {
  const entrypoint = Deno.args.find((arg) => !arg.startsWith("--"));
  if (!entrypoint) {
    console.error("usage: function_runner.ts <path/to/index.ts>");
    Deno.exit(2);
  }
  installServe();
  installEdgeRuntimeShim();
  exitWhenParentGoes();
  const url = entrypoint.startsWith("file:") ? entrypoint : `file://${entrypoint}`;
  try {
    await import(url);
  } catch (error) {
    console.error(`failed to load ${entrypoint}:`, error);
    Deno.exit(1);
  }
}
