/**
 * Resources that must not outlive this process (a throwaway Postgres cluster, function
 * child processes, temp dirs) register here, so one place tears them down on every exit
 * path: normal return, Ctrl-C / SIGTERM, an uncaught error, or `Deno.exit`.
 */

export interface ExitCleanup {
  /** Shown when a cleanup fails, so the leftover can be found by hand. */
  name: string;
  /** The orderly path: awaited on signals and uncaught errors. */
  run(): Promise<void>;
  /** The last resort inside the `unload` event, where nothing can be awaited. */
  runSync(): void;
}

const registered: ExitCleanup[] = [];
let unloadHooked = false;
let handlersInstalled = false;
let exiting = false;

/** Registers a cleanup; the returned function unregisters it (call it once you cleaned up). */
export function registerExitCleanup(cleanup: ExitCleanup): () => void {
  if (!unloadHooked) {
    unloadHooked = true;
    // `unload` fires on a normal end and on Deno.exit, but not after an uncaught error,
    // hence installExitHandlers for entry points.
    globalThis.addEventListener("unload", () => runAllSync());
  }
  registered.push(cleanup);
  return () => {
    const index = registered.indexOf(cleanup);
    if (index >= 0) registered.splice(index, 1);
  };
}

/** Runs every registered cleanup, newest first (children before the cluster they use). */
export async function runExitCleanups(): Promise<void> {
  while (registered.length > 0) {
    const cleanup = registered.pop();
    if (!cleanup) break;
    try {
      await cleanup.run();
    } catch (error) {
      console.error(`cleanup of ${cleanup.name} failed:`, error);
      try {
        cleanup.runSync();
      } catch {
        // Nothing more can be done here; the message above names what is left.
      }
    }
  }
}

function runAllSync(): void {
  while (registered.length > 0) {
    const cleanup = registered.pop();
    if (!cleanup) break;
    try {
      cleanup.runSync();
    } catch (error) {
      console.error(`cleanup of ${cleanup.name} failed:`, error);
    }
  }
}

/** True once a signal or an uncaught error started the exit path. */
export function exitInProgress(): boolean {
  return exiting;
}

/**
 * For entry points only (dev.ts, gen_types.ts, tests/run.ts): a library must not install
 * signal listeners, because they replace Deno's default "terminate on SIGINT" and would
 * leak async ops into `deno test` sanitizers.
 */
export function installExitHandlers(onSignal?: (signal: Deno.Signal) => void): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  const exitAfterCleanup = (code: number) => {
    if (exiting) {
      // A second Ctrl-C while cleaning up: stop waiting, but still leave nothing behind.
      runAllSync();
      Deno.exit(code);
    }
    exiting = true;
    runExitCleanups().finally(() => Deno.exit(code));
  };
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    Deno.addSignalListener(signal, () => {
      onSignal?.(signal);
      exitAfterCleanup(code);
    });
  }
  globalThis.addEventListener("error", (event) => {
    event.preventDefault();
    console.error(event.error);
    exitAfterCleanup(1);
  });
  globalThis.addEventListener("unhandledrejection", (event) => {
    event.preventDefault();
    console.error(event.reason);
    exitAfterCleanup(1);
  });
}
