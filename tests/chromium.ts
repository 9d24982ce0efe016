/**
 * The Chromium the browser tests drive: CHROMIUM_PATH if set, else a system Chromium or Chrome
 * in the usual places, else the one npm installed with `@sparticuz/chromium` (a headless shell,
 * brotli-compressed inside the package, unpacked once into node_modules/.cache together with the
 * NSS libraries and the font it needs, so it runs on a machine with nothing but Node.js).
 */
import { createReadStream, createWriteStream } from "node:fs";
import { pipeline } from "node:stream/promises";
import { createBrotliDecompress } from "node:zlib";
import { type BrowserContext, chromium } from "npm:playwright-core@1.65.1";
import { exists, PROJECT_ROOT } from "../local/stack/paths.ts";

export interface ChromiumBinary {
  path: string;
  /** Where it comes from, for error messages. */
  origin: string;
  /** Extra environment the binary needs (the bundled one: its libraries and fonts). */
  env: Record<string, string>;
}

/**
 * Overrides the places searched for a system browser (`:`-separated; empty searches nowhere),
 * so a test can prove the npm fallback on a machine that has a system Chromium.
 */
export const SEARCH_PATHS_ENV = "IC_CHROMIUM_SEARCH_PATHS";

const SYSTEM_NAMES = ["chromium", "chromium-browser", "google-chrome", "google-chrome-stable"];
const SYSTEM_PATHS = [
  "/usr/bin/chromium",
  "/usr/bin/chromium-browser",
  "/usr/bin/google-chrome",
  "/usr/bin/google-chrome-stable",
  "/snap/bin/chromium",
  "/opt/google/chrome/chrome",
  "/Applications/Google Chrome.app/Contents/MacOS/Google Chrome",
  "/Applications/Chromium.app/Contents/MacOS/Chromium",
];
const SPARTICUZ_DIR = `${PROJECT_ROOT}/node_modules/@sparticuz/chromium`;

export async function findChromium(): Promise<ChromiumBinary> {
  const configured = Deno.env.get("CHROMIUM_PATH");
  if (configured) return { path: configured, origin: "CHROMIUM_PATH", env: {} };
  for (const path of systemCandidates()) {
    if (await isExecutable(path)) return { path, origin: "system", env: {} };
  }
  return await sparticuzChromium();
}

function systemCandidates(): string[] {
  const override = Deno.env.get(SEARCH_PATHS_ENV);
  if (override !== undefined) return override.split(":").filter(Boolean);
  const onPath = (Deno.env.get("PATH") ?? "").split(":").filter(Boolean).flatMap((dir) =>
    SYSTEM_NAMES.map((name) => `${dir}/${name}`)
  );
  return [...SYSTEM_PATHS, ...onPath];
}

/** Unpacks @sparticuz/chromium's binary, libraries and font once per version; reuses them after. */
async function sparticuzChromium(): Promise<ChromiumBinary> {
  if (Deno.build.os !== "linux" || Deno.build.arch !== "x86_64") {
    throw new Error(
      `no Chromium found and @sparticuz/chromium ships Linux x64 only (this is ` +
        `${Deno.build.os}/${Deno.build.arch}): set CHROMIUM_PATH to a Chromium or Chrome binary`,
    );
  }
  const bin = `${SPARTICUZ_DIR}/bin`;
  if (!(await exists(`${bin}/chromium.br`))) {
    throw new Error(
      `no Chromium found: not CHROMIUM_PATH, not in ${systemCandidates().join(", ")}, and ` +
        `${bin}/chromium.br is missing (run \`npm install\`)`,
    );
  }
  const { version } = JSON.parse(await Deno.readTextFile(`${SPARTICUZ_DIR}/package.json`));
  const cache = `${PROJECT_ROOT}/node_modules/.cache/sparticuz-chromium-${version}`;
  const path = `${cache}/chromium`;
  const fontsConf = `${cache}/fonts.conf`;
  // The binary is written last, so its presence means the whole cache is complete.
  if (!(await exists(path))) {
    await Deno.mkdir(cache, { recursive: true });
    await extractTar(await brotli(`${bin}/al2023.tar.br`), cache); // lib/libnss3.so, …
    await extractTar(await brotli(`${bin}/fonts.tar.br`), cache); // fonts/Open_Sans/*.ttf
    await Deno.writeTextFile(
      fontsConf,
      `<?xml version="1.0"?>\n<!DOCTYPE fontconfig SYSTEM "fonts.dtd">\n<fontconfig>\n` +
        `  <dir>${cache}/fonts</dir>\n  <dir>/usr/share/fonts</dir>\n` +
        `  <cachedir>${cache}/fonts-cache</cachedir>\n</fontconfig>\n`,
    );
    // Unpacked under a private name and renamed, so a concurrent run never sees half a binary.
    const partial = `${path}.${Deno.pid}.partial`;
    try {
      await pipeline(
        createReadStream(`${bin}/chromium.br`),
        createBrotliDecompress(),
        createWriteStream(partial, { mode: 0o755 }),
      );
      await Deno.chmod(partial, 0o755);
      await Deno.rename(partial, path);
    } finally {
      await Deno.remove(partial).catch(() => {});
    }
  }
  return {
    path,
    origin: `@sparticuz/chromium ${version}, npm`,
    env: {
      LD_LIBRARY_PATH: [`${cache}/lib`, Deno.env.get("LD_LIBRARY_PATH")].filter(Boolean).join(":"),
      FONTCONFIG_FILE: fontsConf,
    },
  };
}

/** A fresh headless profile in a temp dir; disposing closes the browser and removes the dir. */
export async function launchChromium() {
  // No `playwright install`: CHROMIUM_PATH, a system browser, else @sparticuz/chromium.
  const chromiumBinary = await findChromium();
  const userDataDir = await Deno.makeTempDir({ prefix: "ic-chromium-" });
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: chromiumBinary.path,
      // Playwright's own signal handlers would keep the test process alive on SIGTERM/SIGINT;
      // without them it dies at once and the browser, its pipe closed, goes with it.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      env: { ...Deno.env.toObject(), ...chromiumBinary.env },
      args: [
        "--headless",
        "--no-sandbox",
        "--no-zygote",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
      ],
    });
  } catch (error) {
    await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    throw new Error(
      `the browser tests could not launch Chromium at ${chromiumBinary.path} ` +
        `(${chromiumBinary.origin}; set CHROMIUM_PATH to another Chromium or Chrome binary): ` +
        `${error instanceof Error ? error.message : String(error)}`,
    );
  }
  return {
    context,
    userDataDir,
    async [Symbol.asyncDispose]() {
      await context.close().catch(() => {});
      await Deno.remove(userDataDir, { recursive: true }).catch(() => {});
    },
  };
}

async function brotli(file: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  await pipeline(createReadStream(file), createBrotliDecompress(), async (source) => {
    for await (const chunk of source) chunks.push(chunk);
  });
  const bytes = new Uint8Array(chunks.reduce((sum, chunk) => sum + chunk.length, 0));
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.length;
  }
  return bytes;
}

/** The ustar subset the package's archives use: regular files and directories. */
async function extractTar(tar: Uint8Array, into: string): Promise<void> {
  const decoder = new TextDecoder();
  const text = (from: number, length: number) =>
    decoder.decode(tar.subarray(from, from + length)).replace(/\0.*$/s, "");
  for (let offset = 0; offset + 512 <= tar.length;) {
    const name = text(offset, 100);
    if (!name) break; // the two zero blocks that end the archive
    const prefix = text(offset + 345, 155);
    const size = parseInt(text(offset + 124, 12).trim() || "0", 8);
    const mode = parseInt(text(offset + 100, 8).trim() || "644", 8) & 0o777;
    const type = text(offset + 156, 1) || "0";
    const relative = prefix ? `${prefix}/${name}` : name;
    if (relative.split("/").includes("..") || relative.startsWith("/")) {
      throw new Error(`refusing the archive entry ${relative}`);
    }
    const target = `${into}/${relative}`.replace(/\/$/, "");
    const body = offset + 512;
    if (type === "5") {
      await Deno.mkdir(target, { recursive: true });
    } else if (type === "0") {
      await Deno.mkdir(target.slice(0, target.lastIndexOf("/")), { recursive: true });
      await Deno.writeFile(target, tar.subarray(body, body + size), { mode });
    }
    offset = body + Math.ceil(size / 512) * 512;
  }
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await Deno.stat(path);
    return info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0;
  } catch {
    return false;
  }
}
