/**
 * One process at a time on an embedded data directory. Two PGlite instances on one directory each
 * believe they own it, and one overwrites what the other acknowledged; so the first server writes
 * a lock file — {pid, hostname, port, started_at} — and a second one refuses to start, naming the
 * owner. A lock left by a process that no longer runs on this host (kill -9, a crash) is stale and
 * taken over; a lock from another host cannot be checked from here, so it refuses and says how to
 * clear it. The lock is removed on a clean close.
 */
import { linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from "node:fs";
import { hostname } from "node:os";
import { join } from "node:path";
import { DataDirectoryError } from "./data-dir.js";

export const lockFileName = "isotope-sessions.lock";

/** Who holds a data directory, as its lock file says. */
export interface LockOwner {
  pid: number;
  hostname: string;
  /** The port the owner serves; absent when it opened the directory without serving. */
  port?: number;
  started_at: string;
}

export interface DataDirLock {
  readonly owner: LockOwner;
  /** Removes the lock file if it is still this process's. Idempotent. */
  release(): void;
}

/** Data directories this process holds: a second open from this process is refused as well. */
const heldHere = new Set<string>();

/**
 * Takes the lock on `dataDir` for this process, or throws DataDirectoryError naming the owner.
 * The lock file appears whole or not at all: it is written under a private name, then linked into
 * place (link fails when the name exists — the same guarantee as O_EXCL, without a half-written file).
 */
export function acquireDataDirLock(dataDir: string, port: number | undefined): DataDirLock {
  const path = join(dataDir, lockFileName);
  const owner: LockOwner = {
    pid: process.pid,
    hostname: hostname(),
    ...(port === undefined ? {} : { port }),
    started_at: new Date().toISOString(),
  };
  const draft = `${path}.${process.pid}.${Date.now()}`;
  writeFileSync(draft, `${JSON.stringify(owner)}\n`, { mode: 0o600, flag: "wx" });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(draft, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "EEXIST" || attempt >= 3) throw error;
      }
      const current = readOwner(path);
      if (current === undefined) continue; // removed between link and read: try again
      if (!isStale(current, path)) throw new DataDirectoryError(inUse(dataDir, path, current), dataDir);
      removeStale(path, current);
    }
  } finally {
    unlinkSync(draft);
  }
  heldHere.add(path);
  let released = false;
  return {
    owner,
    release() {
      if (released) return;
      released = true;
      heldHere.delete(path);
      const current = readOwner(path);
      if (current?.pid === owner.pid && current.started_at === owner.started_at) unlinkSync(path);
    },
  };
}

function readOwner(path: string): LockOwner | undefined {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
  try {
    return JSON.parse(text) as LockOwner;
  } catch {
    // Never half-written by us (see link above): someone else's file.
    return { pid: 0, hostname: "unknown (the lock file is not ours)", started_at: "unknown" };
  }
}

/** Stale: written on this host by a process that is gone. (A pid reused since is taken as alive.) */
function isStale(owner: LockOwner, path: string): boolean {
  if (owner.hostname !== hostname() || !Number.isInteger(owner.pid) || owner.pid <= 0) return false;
  // Our own pid in a lock we do not hold: a previous life of a container whose pid is always the same.
  if (owner.pid === process.pid) return !heldHere.has(path);
  try {
    process.kill(owner.pid, 0);
    return false;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "ESRCH";
  }
}

/**
 * Moves the stale lock aside before deleting it, and deletes only what it moved if that is still
 * the stale lock: two processes taking over the same stale lock must not delete each other's
 * fresh one. A fresh lock moved aside by mistake is put back.
 */
function removeStale(path: string, stale: LockOwner): void {
  const aside = `${path}.stale.${process.pid}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return;
    throw error;
  }
  const moved = readOwner(aside);
  if (moved?.pid !== stale.pid || moved.started_at !== stale.started_at) {
    try {
      linkSync(aside, path);
    } catch {
      // someone else holds it by now: they hold it either way
    }
  }
  unlinkSync(aside);
}

function inUse(dataDir: string, path: string, owner: LockOwner): string {
  const who = `process ${owner.pid} on ${owner.hostname}${owner.port === undefined ? "" : ` (port ${owner.port})`}, since ${owner.started_at}`;
  const clear =
    owner.hostname === hostname()
      ? `stop that server first, or give this one another --data-dir`
      : `stop that server first; if it is gone (another machine or container), delete ${path}`;
  return `the embedded data directory ${dataDir} is in use by ${who}: ${clear}`;
}
