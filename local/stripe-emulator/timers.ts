/**
 * Every timer and sleep the emulator starts, so `stop()` can cancel them all and Deno's test
 * sanitizers see nothing left behind.
 */
export class TimerSet {
  #timers = new Set<ReturnType<typeof setTimeout>>();
  #intervals = new Set<ReturnType<typeof setTimeout>>();
  #abort = new AbortController();

  get signal(): AbortSignal {
    return this.#abort.signal;
  }

  after(ms: number, fn: () => void): void {
    if (this.#abort.signal.aborted) return;
    const id = setTimeout(() => {
      this.#timers.delete(id);
      fn();
    }, ms);
    this.#timers.add(id);
  }

  every(ms: number, fn: () => void): void {
    if (this.#abort.signal.aborted) return;
    this.#intervals.add(setInterval(fn, ms));
  }

  /** An abort signal that fires after `ms` or when the emulator stops; call `done` when finished. */
  deadline(ms: number): { signal: AbortSignal; done: () => void } {
    const controller = new AbortController();
    const onStop = () => controller.abort(new Error("stripe emulator stopped"));
    this.#abort.signal.addEventListener("abort", onStop, { once: true });
    const id = setTimeout(() => {
      this.#timers.delete(id);
      controller.abort(new Error(`no answer within ${ms} ms`));
    }, ms);
    this.#timers.add(id);
    return {
      signal: controller.signal,
      done: () => {
        clearTimeout(id);
        this.#timers.delete(id);
        this.#abort.signal.removeEventListener("abort", onStop);
      },
    };
  }

  /** Resolves after `ms`, or early (without throwing) when the emulator stops. */
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      if (this.#abort.signal.aborted) return resolve();
      const onAbort = () => {
        clearTimeout(id);
        this.#timers.delete(id);
        resolve();
      };
      const id = setTimeout(() => {
        this.#timers.delete(id);
        this.#abort.signal.removeEventListener("abort", onAbort);
        resolve();
      }, ms);
      this.#timers.add(id);
      this.#abort.signal.addEventListener("abort", onAbort, { once: true });
    });
  }

  stopAll(): void {
    this.#abort.abort();
    for (const id of this.#timers) clearTimeout(id);
    for (const id of this.#intervals) clearInterval(id);
    this.#timers.clear();
    this.#intervals.clear();
  }
}
