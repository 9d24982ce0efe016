/**
 * The process table, read from /proc (Linux): what the lifecycle checks and tests/run.ts use to
 * prove, or make sure, that nothing a run started outlives it.
 */

/** Alive means running; a zombie waiting for its parent has already exited. */
export function isAlive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    const state = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[0];
    return state !== "Z" && state !== "X";
  } catch {
    return false;
  }
}

/** Every live process but this one whose `/proc/<pid>/<file>` (NUL-separated) passes `test`. */
function scan(file: "cmdline" | "environ", test: (fields: string[]) => boolean): number[] {
  const found: number[] = [];
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return found; // no /proc (macOS): nothing to report
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid) || pid === Deno.pid) continue;
    try {
      const fields = Deno.readTextFileSync(`/proc/${pid}/${file}`).split("\0");
      if (test(fields) && isAlive(pid)) found.push(pid);
    } catch {
      // Exited while we looked, or not ours to read.
    }
  }
  return found;
}

/** Processes whose command line mentions `text` (e.g. a temp dir or a fixture path). */
export function processesMentioning(text: string): number[] {
  return scan("cmdline", (fields) => fields.join(" ").includes(text));
}

/**
 * Processes whose environment holds `name=value` (e.g. a run's private TMPDIR); with `under`,
 * also `name=value/…`.
 */
export function processesWithEnv(name: string, value: string, under = false): number[] {
  const exact = `${name}=${value}`;
  return scan(
    "environ",
    (fields) => fields.some((field) => field === exact || (under && field.startsWith(`${exact}/`))),
  );
}

/** Processes started with TMPDIR at or under `dir`, or whose command line names it. */
export function processesOfTempDir(dir: string): number[] {
  return [...new Set([...processesWithEnv("TMPDIR", dir, true), ...processesMentioning(dir)])];
}

/**
 * `pids` and every live process below them, by parent pid: the helpers a browser starts do not
 * inherit its environment (Chromium clears it) nor name its profile dir, so only their parent
 * ties them to a run. Read before killing anything: a killed parent's children move to init.
 */
export function withDescendants(pids: number[]): number[] {
  const children = new Map<number, number[]>();
  let entries: Iterable<Deno.DirEntry>;
  try {
    entries = Deno.readDirSync("/proc");
  } catch {
    return pids;
  }
  for (const entry of entries) {
    const pid = Number(entry.name);
    if (!Number.isInteger(pid)) continue;
    try {
      const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
      const parent = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
      children.set(parent, [...(children.get(parent) ?? []), pid]);
    } catch {
      // Exited while we looked.
    }
  }
  const found = new Set(pids);
  const queue = [...pids];
  for (let pid = queue.shift(); pid !== undefined; pid = queue.shift()) {
    for (const child of children.get(pid) ?? []) {
      if (!found.has(child) && child !== Deno.pid && isAlive(child)) {
        found.add(child);
        queue.push(child);
      }
    }
  }
  return [...found];
}

/** The command line of `pid`, for messages. */
export function commandLine(pid: number): string {
  try {
    return Deno.readTextFileSync(`/proc/${pid}/cmdline`).replaceAll("\0", " ").trim();
  } catch {
    return "?";
  }
}
