/**
 * What the composition root (app.ts) needs while it starts: the stand-ins the routes hold until the
 * database is open, and start-up failures an operator can act on — a port that cannot be bound,
 * a database that cannot be opened — each as one sentence: what, where, what to do.
 */
import type { Config } from "./config/load-config.js";
import { DataDirectoryError } from "./db/data-dir.js";
import { DatabaseUnavailableError } from "./db/errors.js";

/** A start-up failure an operator can act on: `message` is one sentence — what, where, what to do. */
export class StartupError extends Error {
  override readonly name = "StartupError";
}

/**
 * A stand-in for something being opened: until `open(value)`, touching any member throws
 * DatabaseUnavailableError (a call gets UNAVAILABLE, and may retry); from then on each member is the
 * value's. A Proxy rather than a list of methods: before opening, every member's answer is the same.
 */
export function opening<T extends object>(): { standIn: T; open(value: T): void } {
  let target: T | undefined;
  const bound = new Map<PropertyKey, unknown>();
  const standIn = new Proxy({} as T, {
    get(_, key) {
      if (target === undefined) throw new DatabaseUnavailableError("the database is still opening", undefined);
      const member = Reflect.get(target, key, target);
      if (typeof member !== "function") return member;
      if (!bound.has(key)) bound.set(key, member.bind(target));
      return bound.get(key);
    },
  });
  return {
    standIn,
    open(value) {
      target = value;
    },
  };
}

export function portFailure(error: unknown, port: number, host: string | undefined): string {
  const where = `port ${port} on ${host ?? "all interfaces"}`;
  const code = (error as NodeJS.ErrnoException).code;
  if (code === "EADDRINUSE")
    return `${where} is already in use (EADDRINUSE): stop whatever listens there, or choose another --port`;
  if (code === "EACCES")
    return `${where} may not be bound by this user (EACCES): choose a --port above 1023, or run with the privilege to bind it`;
  if (code === "EADDRNOTAVAIL")
    return `cannot listen on ${where}: ${host} is not an address of this machine (EADDRNOTAVAIL): choose another --host`;
  return `cannot listen on ${where} (${code ?? (error as Error).message}): choose another --port or --host`;
}

export function openFailure(error: unknown, database: Config["database"]): Error {
  if (error instanceof DataDirectoryError) return new StartupError(error.message, { cause: error });
  if (error instanceof DatabaseUnavailableError) {
    const where =
      database.kind === "embedded"
        ? `the embedded database in ${database.dataDir}`
        : "the PostgreSQL server configured";
    return new StartupError(
      `cannot reach ${where} (${error.message}): check that it runs and the connection settings`,
      { cause: error },
    );
  }
  return error instanceof Error ? error : new Error(String(error));
}
