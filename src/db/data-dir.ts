/**
 * The embedded database's data directory as a place on disk: created private (0700, files 0600,
 * whatever the umask — PGlite writes the files of a new directory 0666), refused when it holds
 * something that is not an embedded database, and every failure to use it told as one sentence
 * naming the directory and the operating system's reason.
 */
import { chmodSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** The data directory cannot be used; `message` is one sentence: what, where, what to do. */
export class DataDirectoryError extends Error {
  override readonly name = "DataDirectoryError";
  constructor(
    message: string,
    readonly dataDir: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * What a PostgreSQL data directory holds (PG_VERSION, base, global, pg_wal, postgresql.conf, …),
 * and our lock: a directory of nothing else is a database (or what a first start cut short left).
 */
const databaseEntry =
  /^(PG_VERSION|base|global|pg_[a-z_]+(\.conf)?|postgresql(\.auto)?\.conf|postmaster\.(pid|opts)|isotope-sessions\.lock.*)$/;

/** Creates `dataDir` (0700, recursively) if it does not exist. */
export function createDataDir(dataDir: string): void {
  try {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw explainFailure(error, dataDir);
  }
}

/**
 * Checks what `dataDir` holds: nothing, or a database — PGlite would otherwise write a new database
 * in among whatever else is there (a home directory, say). Run while holding the lock, so a
 * database another process is creating right now is not mistaken for anything else.
 */
export function checkDataDir(dataDir: string): void {
  try {
    const names = readdirSync(dataDir);
    const foreign = names.filter((name) => !databaseEntry.test(name));
    if (foreign.length > 0) {
      throw new DataDirectoryError(
        `the embedded data directory ${dataDir} holds files that are not a database (${foreign.slice(0, 3).join(", ")}${foreign.length > 3 ? ", …" : ""}): give --data-dir an empty or new directory`,
        dataDir,
      );
    }
    // Empty: private before PGlite unpacks a database into it. A database's directory is made
    // private once PGlite has opened it (makePrivate), so one it cannot open is left as it was.
    if (names.every((name) => name.startsWith("isotope-sessions.lock"))) chmodSync(dataDir, 0o700);
  } catch (error) {
    throw explainFailure(error, dataDir);
  }
}

/**
 * Makes every file under `dir` 0600 and every directory 0700. PGlite unpacks a new database's
 * files 0666 and keeps the mode of a file it recycles (WAL segments), so this runs after it opens;
 * what PostgreSQL creates afterwards is 0600, or 0666 less the umask (kept at 077 by openEmbedded).
 */
export function makePrivate(dir: string): void {
  chmodSync(dir, 0o700);
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) makePrivate(path);
    else if (entry.isFile()) chmodSync(path, 0o600);
  }
}

/** Emscripten's errno numbers (PGlite's file system reports these) → the operating system's names. */
const emscriptenErrno: Record<number, string> = {
  2: "EACCES",
  20: "EEXIST",
  29: "EIO",
  31: "EISDIR",
  44: "ENOENT",
  51: "ENOSPC",
  54: "ENOTDIR",
  63: "EPERM",
  69: "EROFS",
  22: "EFBIG",
  33: "EMFILE",
};

const reasons: Record<string, string> = {
  EACCES: "permission denied: make it writable by this user (or run as its owner)",
  EPERM: "operation not permitted: make it writable by this user (or run as its owner)",
  EROFS: "the file system is read-only: choose a writable place",
  ENOSPC: "no space left on the device: free some space or choose another disk",
  EDQUOT: "the disk quota is exhausted: free some space or choose another disk",
  ENOTDIR: "a part of the path is a file, not a directory: choose another path",
  EEXIST: "a file of that name is in the way: choose another path",
  EISDIR: "a directory is where a file should be: give --data-dir an empty or new directory",
  EIO: "an input/output error from the disk: check the device",
  EMFILE: "too many open files: raise the limit (ulimit -n)",
};

/**
 * The failure to open or create the data directory as a DataDirectoryError: the operating system's
 * reason (from node's `code`, or PGlite's Emscripten `errno`), or — when PGlite gives none — what
 * the directory's PG_VERSION says.
 */
export function explainFailure(error: unknown, dataDir: string): DataDirectoryError {
  if (error instanceof DataDirectoryError) return error;
  const code = osCode(error);
  if (code !== undefined) {
    const reason = reasons[code] ?? `${code}: check the directory and its permissions`;
    return new DataDirectoryError(
      `the embedded database cannot use its data directory ${dataDir} (${code}): ${reason}`,
      dataDir,
      { cause: error },
    );
  }
  const detail = error instanceof Error ? error.message : JSON.stringify(error);
  const version = pgVersion(dataDir);
  if (version !== undefined) {
    return new DataDirectoryError(
      `the embedded database cannot open ${dataDir}, which holds data of PostgreSQL ${version} (its PG_VERSION), and failed with "${detail}": if it is another PostgreSQL version's directory, give --data-dir a new directory (and move the data with pg_dump)`,
      dataDir,
      { cause: error },
    );
  }
  return new DataDirectoryError(
    `the embedded database failed to open ${dataDir} (${detail}): if the directory was not written by this service, give --data-dir a new directory`,
    dataDir,
    { cause: error },
  );
}

function osCode(error: unknown): string | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, errno } = error as { code?: unknown; errno?: unknown };
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return code;
  // Emscripten's ErrnoError has a positive errno and no code; node's errors have a negative one.
  if (typeof errno === "number" && errno > 0) return emscriptenErrno[errno] ?? `errno ${errno}`;
  return undefined;
}

function pgVersion(dataDir: string): string | undefined {
  try {
    return readFileSync(join(dataDir, "PG_VERSION"), "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}
