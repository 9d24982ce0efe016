/**
 * The load generator of tests/bench.ts, run as a Worker: its own thread and event loop, so
 * the client's work does not queue behind the gateway's (which runs in the bench's main
 * thread, as in `deno task dev`). It sends `count` requests, `concurrency` at a time, and
 * answers with each request's latency.
 */

export interface RequestSpec {
  url: string;
  method?: string;
  headers?: Record<string, string>;
  body?: string;
}

export interface LoadJob {
  /** Request i is requests[i % requests.length]. */
  requests: RequestSpec[];
  count: number;
  concurrency: number;
  expectStatus: number;
  /** Set → this header gets a fresh UUID on every request (a new idempotency key). */
  freshKeyHeader?: string;
}

export interface LoadResult {
  /** Milliseconds, in completion order. */
  latencies: number[];
  elapsedMs: number;
  /** The first few unexpected answers. */
  failures: string[];
  failed: number;
}

export async function runLoad(job: LoadJob): Promise<LoadResult> {
  const latencies: number[] = [];
  const failures: string[] = [];
  let failed = 0;
  let next = 0;
  const worker = async () => {
    while (next < job.count) {
      const spec = job.requests[next++ % job.requests.length];
      if (!spec) throw new Error("a load job needs at least one request");
      const headers = new Headers(spec.headers);
      if (job.freshKeyHeader) headers.set(job.freshKeyHeader, crypto.randomUUID());
      const started = performance.now();
      const response = await fetch(spec.url, {
        method: spec.method ?? "POST",
        headers,
        body: spec.body,
      });
      const text = await response.text();
      latencies.push(performance.now() - started);
      if (response.status !== job.expectStatus) {
        failed++;
        if (failures.length < 3) failures.push(`${response.status}: ${text.slice(0, 300)}`);
      }
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: Math.max(1, job.concurrency) }, worker));
  return { latencies, elapsedMs: performance.now() - started, failures, failed };
}

/** One Worker for a whole bench (its connections stay warm between jobs); one job at a time. */
export class LoadWorker {
  #worker = new Worker(import.meta.url, { type: "module" });
  #pending: { resolve(result: LoadResult): void; reject(error: Error): void } | undefined;

  constructor() {
    this.#worker.onmessage = (event: MessageEvent<{ result?: LoadResult; error?: string }>) => {
      const pending = this.#pending;
      this.#pending = undefined;
      if (event.data.result) pending?.resolve(event.data.result);
      else pending?.reject(new Error(event.data.error ?? "the load worker failed"));
    };
    this.#worker.onerror = (event) => {
      event.preventDefault();
      this.#pending?.reject(new Error(event.message));
      this.#pending = undefined;
    };
  }

  run(job: LoadJob): Promise<LoadResult> {
    if (this.#pending) throw new Error("one load job at a time");
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
      this.#worker.postMessage(job);
    });
  }

  close(): void {
    this.#worker.terminate();
  }
}

/** What the Worker side sees of its global scope. */
interface WorkerScope {
  onmessage: ((event: MessageEvent<LoadJob>) => void) | null;
  postMessage(message: unknown): void;
}

// Inside the Worker: one job per message.
if ("WorkerGlobalScope" in globalThis) {
  const scope = globalThis as unknown as WorkerScope;
  scope.onmessage = async (event) => {
    try {
      scope.postMessage({ result: await runLoad(event.data) });
    } catch (error) {
      scope.postMessage({
        error: error instanceof Error ? error.stack ?? error.message : `${error}`,
      });
    }
  };
}
