/**
 * The local stack's stand-in for pg_cron (README "Scheduling"): calls outbox-dispatch and
 * stripe-reconcile every N seconds through the gateway with the service_role key, as the
 * scheduling migration does on Supabase. A run still going when the next is due is not
 * doubled; 0 seconds disables a schedule.
 */

export interface ScheduleOptions {
  functionsUrl: string;
  secretKey: string;
  /** Function name → interval in seconds (0 = off). */
  every: Record<string, number>;
  log: (line: string) => void;
}

export interface Schedules {
  stop(): Promise<void>;
}

export function startSchedules(options: ScheduleOptions): Schedules {
  const timers: ReturnType<typeof setInterval>[] = [];
  const running = new Map<string, Promise<void>>();
  let stopped = false;

  const run = (name: string) => {
    if (stopped || running.has(name)) return;
    const call = (async () => {
      try {
        const response = await fetch(`${options.functionsUrl}/${name}`, {
          method: "POST",
          headers: {
            apikey: options.secretKey,
            authorization: `Bearer ${options.secretKey}`,
            "content-type": "application/json",
          },
          body: "{}",
        });
        const text = await response.text();
        if (!response.ok) options.log(`schedule ${name}: ${response.status} ${text}`);
        else if (isNotable(text)) options.log(`schedule ${name}: ${text}`);
      } catch (error) {
        if (!stopped) options.log(`schedule ${name} failed: ${error}`);
      } finally {
        running.delete(name);
      }
    })();
    running.set(name, call);
  };

  for (const [name, seconds] of Object.entries(options.every)) {
    if (seconds > 0) timers.push(setInterval(() => run(name), seconds * 1000));
  }

  return {
    async stop() {
      stopped = true;
      for (const timer of timers) clearInterval(timer);
      await Promise.all(running.values());
    },
  };
}

/** A summary worth a log line: something was delivered, applied, expired or failed. */
function isNotable(text: string): boolean {
  try {
    const summary = JSON.parse(text) as Record<string, unknown>;
    return ["claimed", "applied", "failed", "expired"].some((key) =>
      typeof summary[key] === "number" && (summary[key] as number) > 0
    );
  } catch {
    return true;
  }
}
