/**
 * The database's failures as classes, so nothing above db/ inspects a driver's error: each driver
 * turns what it throws into one of these (SQLSTATE → class by the table below; a lost connection,
 * which pg reports without a SQLSTATE, is the driver's own call). The RPC edge maps classes to
 * status codes (src/rpc/interceptors/errors.ts); the repository's decorators ask `instanceof`
 * (the spool falls back on DatabaseUnavailableError). The original error stays as `cause`.
 */

/** A failure of the database; `sqlState` is PostgreSQL's SQLSTATE when it sent one. */
export class DatabaseError extends Error {
  override readonly name: string = "DatabaseError";
  constructor(
    message: string,
    readonly sqlState: string | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The database cannot be reached now (down, restarting, out of connections): retry later. */
export class DatabaseUnavailableError extends DatabaseError {
  override readonly name = "DatabaseUnavailableError";
}

/** The statement timeout passed, or an operator cancelled the statement. */
export class DatabaseTimeoutError extends DatabaseError {
  override readonly name = "DatabaseTimeoutError";
}

/** The database refused a value it was given (bad encoding, out of range): the caller's input. */
export class DatabaseRefusedValueError extends DatabaseError {
  override readonly name = "DatabaseRefusedValueError";
}

/** The transaction lost a race (serialization failure, deadlock): retrying may succeed. */
export class DatabaseConflictError extends DatabaseError {
  override readonly name = "DatabaseConflictError";
}

/** A limit of the database was hit (program limit, stack depth). */
export class DatabaseLimitError extends DatabaseError {
  override readonly name = "DatabaseLimitError";
}

/** The statement was cancelled because the caller's signal aborted (not a database failure). */
export class DatabaseAbortError extends Error {
  override readonly name = "DatabaseAbortError";
  constructor(readonly reason: unknown) {
    super("statement cancelled: the caller's signal aborted");
  }
}

type DatabaseErrorClass = new (
  message: string,
  sqlState: string | undefined,
  options?: { cause?: unknown },
) => DatabaseError;

/** SQLSTATE (exact, or a class prefix ending in "*") → what it means to a caller. */
const sqlStates: ReadonlyArray<[pattern: string, errorClass: DatabaseErrorClass]> = [
  ["08*", DatabaseUnavailableError], // connection exceptions
  ["57P0*", DatabaseUnavailableError], // admin / crash shutdown, cannot connect now
  ["53300", DatabaseUnavailableError], // too many connections
  ["57014", DatabaseTimeoutError], // statement timeout, or cancelled
  ["40001", DatabaseConflictError], // serialization failure
  ["40P01", DatabaseConflictError], // deadlock detected
  ["22P05", DatabaseRefusedValueError], // untranslatable character (U+0000 in jsonb)
  ["22P02", DatabaseRefusedValueError], // invalid text representation
  ["22021", DatabaseRefusedValueError], // character not in repertoire
  ["2202E", DatabaseRefusedValueError], // array subscript error
  ["22008", DatabaseRefusedValueError], // datetime field overflow
  ["22003", DatabaseRefusedValueError], // numeric value out of range
  ["54000", DatabaseLimitError], // program limit exceeded
  ["54001", DatabaseLimitError], // statement too complex (stack depth)
];

/** Node's codes for a network that does not get through. */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EHOSTUNREACH",
  "ENETUNREACH",
]);

/**
 * The class of a driver error that carries a SQLSTATE or a network code; undefined for anything
 * else (a driver decides what its other errors mean).
 */
export function classifyDriverError(error: unknown): DatabaseError | undefined {
  const code = typeof error === "object" && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code !== "string") return undefined;
  const message = error instanceof Error ? error.message : String(error);
  if (networkCodes.has(code)) return new DatabaseUnavailableError(message, undefined, { cause: error });
  if (!/^[0-9A-Z]{5}$/.test(code)) return undefined;
  const match = sqlStates.find(([pattern]) =>
    pattern.endsWith("*") ? code.startsWith(pattern.slice(0, -1)) : code === pattern,
  );
  const errorClass = match?.[1] ?? DatabaseError;
  return new errorClass(message, code, { cause: error });
}
