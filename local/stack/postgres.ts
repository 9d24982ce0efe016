import postgres from "npm:postgres@3.4.9";
import { registerExitCleanup } from "./exit.ts";
import { freePort } from "./ports.ts";
import { isAlive } from "./processes.ts";
import {
  copyNativeTree,
  findPostgresBinaries,
  libraryEnv,
  type PostgresBinaries,
} from "./postgres_binaries.ts";

export interface StartPostgresOptions {
  /** Use this server instead of creating a throwaway cluster. */
  databaseUrl?: string;
  /**
   * The machine's own `initdb` and `postgres` for the throwaway cluster; default
   * POSTGRES_BIN_DIR, and without it the embedded Postgres npm installed.
   */
  binDir?: string;
}

export interface PostgresServer {
  /** Superuser URL (database `postgres` for a throwaway cluster, else `databaseUrl` as given). */
  adminUrl: string;
  /** True when this process created the cluster and will remove it on stop. */
  ownsCluster: boolean;
  /** The throwaway cluster's temp dir (data dir, socket, nothing else); undefined otherwise. */
  tempDir?: string;
  /** The postmaster's pid for a throwaway cluster. */
  pid?: number;
  /** The server's version, e.g. "17.10". */
  version: string;
  /** Which Postgres runs, for the status block: version and where it comes from. */
  description: string;
  stop(): Promise<void>;
}

interface OsUser {
  name: string;
  uid: number;
  gid: number;
}

const READY_LINE = "database system is ready to accept connections";
const START_TIMEOUT_MS = 30_000;
const STOP_TIMEOUT_MS = 10_000;
/** Enough of the server log to explain a failed start without holding it all in memory. */
const LOG_TAIL_CHARS = 16_384;

/** Uses `databaseUrl` if given, else starts a throwaway cluster removed on every exit path. */
export async function startPostgres(options: StartPostgresOptions = {}): Promise<PostgresServer> {
  if (options.databaseUrl) {
    const version = await serverVersion(options.databaseUrl);
    return {
      adminUrl: options.databaseUrl,
      ownsCluster: false,
      version,
      description: `PostgreSQL ${version} at DATABASE_URL`,
      stop: () => Promise.resolve(),
    };
  }
  let binaries = await findPostgresBinaries(
    options.binDir ?? (Deno.env.get("POSTGRES_BIN_DIR") || undefined),
  );
  // initdb and postgres refuse to run as root, so the cluster belongs to an unprivileged user.
  const runAs = Deno.uid() === 0 ? await unprivilegedUser() : undefined;
  const tempDir = await Deno.makeTempDir({ prefix: "ic-pg-" });
  const dataDir = `${tempDir}/data`;
  let unregister = registerExitCleanup({
    name: `temp dir ${tempDir}`,
    run: () => Deno.remove(tempDir, { recursive: true }).catch(() => {}),
    runSync: () => removeSync(tempDir),
  });
  try {
    if (runAs) await Deno.chown(tempDir, runAs.uid, runAs.gid);
    let run: Runner = { runAs, env: await libraryEnv(binaries, `${tempDir}/lib`) };
    let version = await probeVersion(binaries, run);
    if (version === undefined && runAs && binaries.nativeDir) {
      // The cluster's user cannot reach node_modules (a project under /root, say): give it a copy.
      binaries = await copyNativeTree(binaries, `${tempDir}/native`);
      run = { runAs, env: await libraryEnv(binaries, `${tempDir}/native/links`) };
      version = await probeVersion(binaries, run);
    }
    if (version === undefined) {
      const probe = await asUser(run, `${binaries.binDir}/postgres`, ["--version"]).output();
      throw new Error(
        `${binaries.binDir}/postgres does not run${runAs ? ` as user ${runAs.name}` : ""}:\n${
          new TextDecoder().decode(probe.stderr)
        }`,
      );
    }
    await initCluster(binaries.binDir, dataDir, run);
    for (let attempt = 1;; attempt++) {
      const port = freePort();
      try {
        const server = await launch(binaries, version, tempDir, port, run);
        unregister();
        unregister = () => {};
        return server;
      } catch (error) {
        // Another process may have taken the port between freePort and bind.
        if (attempt >= 3 || !String(error).includes("could not bind")) throw error;
      }
    }
  } catch (error) {
    unregister();
    await Deno.remove(tempDir, { recursive: true }).catch(() => {});
    throw error;
  }
}

export async function createDatabase(
  adminUrl: string,
  name: string,
  options: { template?: string } = {},
): Promise<void> {
  await withAdmin(adminUrl, async (sql) => {
    const template = options.template ? ` template ${quoteIdent(options.template)}` : "";
    await sql.unsafe(`create database ${quoteIdent(name)}${template}`);
  });
}

/** Drops the database even while clients are still connected (Postgres 13+). */
export async function dropDatabase(adminUrl: string, name: string): Promise<void> {
  await withAdmin(adminUrl, async (sql) => {
    await sql.unsafe(`drop database if exists ${quoteIdent(name)} with (force)`);
  });
}

/** The same server and credentials as `url`, another database. */
export function databaseUrl(url: string, database: string): string {
  const parsed = new URL(url);
  parsed.pathname = `/${encodeURIComponent(database)}`;
  return parsed.toString();
}

export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

async function withAdmin(
  adminUrl: string,
  work: (sql: postgres.Sql) => Promise<void>,
): Promise<void> {
  const sql = postgres(adminUrl, { max: 1, onnotice: () => {} });
  try {
    await work(sql);
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** Who runs the cluster's programs (an unprivileged user when we are root) and extra env. */
interface Runner {
  runAs?: OsUser;
  env: Record<string, string>;
}

/** "17.10" from `postgres --version`, or undefined when the binary cannot run as `run`. */
async function probeVersion(
  binaries: PostgresBinaries,
  run: Runner,
): Promise<string | undefined> {
  try {
    const output = await asUser(run, `${binaries.binDir}/postgres`, ["--version"]).output();
    if (!output.success) return undefined;
    const text = new TextDecoder().decode(output.stdout).trim();
    // "postgres (PostgreSQL) 17.10", or "… 15.20 (Debian 15.20-0+deb12u1)" from a distribution.
    return /\(PostgreSQL\)\s+(\S+)/.exec(text)?.[1] ?? text;
  } catch {
    return undefined;
  }
}

async function serverVersion(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [row] = await sql<{ server_version: string }[]>`show server_version`;
    return row?.server_version.split(" ")[0] ?? "unknown";
  } finally {
    await sql.end({ timeout: 5 });
  }
}

async function launch(
  binaries: PostgresBinaries,
  version: string,
  tempDir: string,
  port: number,
  run: Runner,
): Promise<PostgresServer> {
  const args = [
    "-D",
    `${tempDir}/data`,
    "-p",
    String(port),
    "-c",
    "listen_addresses=127.0.0.1",
    "-c",
    `unix_socket_directories=${tempDir}`,
    // A throwaway cluster never needs to survive a power cut; these make it fast.
    "-c",
    "fsync=off",
    "-c",
    "synchronous_commit=off",
    "-c",
    "full_page_writes=off",
    "-c",
    "max_connections=300",
  ];
  const child = asUser(run, `${binaries.binDir}/postgres`, args, "null").spawn();
  const pid = child.pid;
  let log = "";
  let ready!: () => void;
  const readyPromise = new Promise<void>((resolve) => (ready = resolve));
  // postgres logs to stderr; draining it also keeps the pipe from filling up.
  const drained = (async () => {
    const decoder = new TextDecoder();
    for await (const chunk of child.stderr) {
      log = (log + decoder.decode(chunk, { stream: true })).slice(-LOG_TAIL_CHARS);
      if (log.includes(READY_LINE)) ready();
    }
  })();
  let stopping: Promise<void> | undefined;
  const stopSync = () => {
    if (stopping) return;
    stopping = Promise.resolve();
    killAndWaitSync(pid, `${tempDir}/data`);
    removeSync(tempDir);
  };
  // Memoized, so a second caller (the exit handler racing a finally block) waits for the
  // same shutdown instead of returning while the temp dir still exists.
  const stop = () =>
    stopping ??= (async () => {
      // Immediate shutdown: no checkpoint, the data is thrown away anyway.
      trySignal(child, "SIGQUIT");
      const timer = setTimeout(() => trySignal(child, "SIGKILL"), STOP_TIMEOUT_MS);
      await child.status;
      clearTimeout(timer);
      await drained.catch(() => {});
      await Deno.remove(tempDir, { recursive: true }).catch(() => {});
      unregister();
    })();
  const unregister = registerExitCleanup({
    name: `postgres pid ${pid}`,
    run: stop,
    runSync: stopSync,
  });

  const exited = child.status.then((status) => {
    throw new Error(`postgres exited during start-up (code ${status.code}):\n${log}`);
  });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`postgres did not start within ${START_TIMEOUT_MS} ms:\n${log}`)),
      START_TIMEOUT_MS,
    );
  });
  try {
    await Promise.race([readyPromise, exited, timeout]);
  } catch (error) {
    await stop();
    throw error;
  } finally {
    clearTimeout(timer);
  }
  exited.catch(() => {});
  return {
    adminUrl: `postgresql://postgres:postgres@127.0.0.1:${port}/postgres`,
    ownsCluster: true,
    tempDir,
    pid,
    version,
    description: `PostgreSQL ${version} (${binaries.origin}), throwaway cluster in ${tempDir} ` +
      `(pid ${pid})`,
    stop,
  };
}

async function initCluster(binDir: string, dataDir: string, run: Runner) {
  const output = await asUser(run, `${binDir}/initdb`, [
    "-D",
    dataDir,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--locale=C",
    "--no-sync",
    "--no-instructions",
  ]).output();
  if (!output.success) {
    const text = new TextDecoder().decode(output.stderr) + new TextDecoder().decode(output.stdout);
    throw new Error(`initdb failed (code ${output.code}):\n${text}`);
  }
}

function asUser(
  { runAs, env }: Runner,
  program: string,
  args: string[],
  stdout: "piped" | "null" = "piped",
): Deno.Command {
  const options = { stdin: "null", stdout, stderr: "piped" } as const;
  if (!runAs) return new Deno.Command(program, { args, ...options, env });
  // setpriv execs in place, so the pid we hold is the postmaster's own and signals reach it.
  return new Deno.Command("setpriv", {
    args: [
      `--reuid=${runAs.uid}`,
      `--regid=${runAs.gid}`,
      "--clear-groups",
      "--",
      program,
      ...args,
    ],
    ...options,
    env: { ...env, HOME: "/tmp", USER: runAs.name, LOGNAME: runAs.name },
  });
}

async function unprivilegedUser(): Promise<OsUser> {
  const passwd = await Deno.readTextFile("/etc/passwd");
  const users = new Map<string, OsUser>();
  for (const line of passwd.split("\n")) {
    const [name, , uid, gid] = line.split(":");
    if (name && uid && gid) users.set(name, { name, uid: Number(uid), gid: Number(gid) });
  }
  const user = users.get("postgres") ?? users.get("nobody");
  if (!user) {
    throw new Error("running as root, but neither a `postgres` nor a `nobody` user exists");
  }
  return user;
}

function trySignal(child: Deno.ChildProcess, signal: Deno.Signal): void {
  try {
    child.kill(signal);
  } catch {
    // Already gone.
  }
}

function killAndWaitSync(pid: number, dataDir: string): void {
  try {
    Deno.kill(pid, "SIGQUIT");
  } catch {
    return;
  }
  const deadline = Date.now() + 5_000;
  while (Date.now() < deadline && isRunning(pid, dataDir)) sleepSync(20);
  if (isRunning(pid, dataDir)) {
    try {
      Deno.kill(pid, "SIGKILL");
    } catch {
      // Gone in the meantime.
    }
  }
}

/**
 * Whether the postmaster still runs, answered without awaiting (the unload path cannot reap
 * the child, so a plain kill probe would see the zombie as alive). Linux: /proc, where a
 * zombie counts as gone. Elsewhere (macOS has no /proc): the cluster's postmaster.pid, which
 * the postmaster removes as it exits, immediate shutdown included; only a SIGKILL leaves it
 * behind, and killAndWaitSync's deadline bounds that wait.
 */
function isRunning(pid: number, dataDir: string): boolean {
  if (Deno.build.os !== "linux") {
    try {
      Deno.statSync(`${dataDir}/postmaster.pid`);
      return true;
    } catch {
      return false;
    }
  }
  return isAlive(pid);
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function removeSync(path: string): void {
  try {
    Deno.removeSync(path, { recursive: true });
  } catch {
    // Already removed.
  }
}
