// Failures below the API edge without a database: what a driver's error becomes (db/errors.ts),
// and which status code and message each class reaches a client as (rpc/interceptors/errors.ts).
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import {
  classifyDriverError,
  DatabaseAbortError,
  DatabaseConflictError,
  DatabaseError,
  DatabaseLimitError,
  DatabaseRefusedValueError,
  DatabaseTimeoutError,
  DatabaseUnavailableError,
} from "../../src/db/errors.js";
import { toConnectError } from "../../src/rpc/interceptors/errors.js";

const driverError = (code: string) => Object.assign(new Error(`driver says ${code}`), { code });

describe("database errors", () => {
  it("classifies by SQLSTATE, class prefixes included, keeping the driver's error as the cause", () => {
    const cases: Array<[string, new (...args: never[]) => DatabaseError]> = [
      ["08006", DatabaseUnavailableError],
      ["57P01", DatabaseUnavailableError],
      ["53300", DatabaseUnavailableError],
      ["57014", DatabaseTimeoutError],
      ["40001", DatabaseConflictError],
      ["40P01", DatabaseConflictError],
      ["22P05", DatabaseRefusedValueError],
      ["22003", DatabaseRefusedValueError],
      ["54001", DatabaseLimitError],
      ["42P01", DatabaseError],
    ];
    for (const [sqlState, errorClass] of cases) {
      const original = driverError(sqlState);
      const classified = classifyDriverError(original);
      expect(classified, sqlState).toBeInstanceOf(errorClass);
      expect(classified?.sqlState).toBe(sqlState);
      expect(classified?.cause).toBe(original);
    }
    expect(classifyDriverError(driverError("ECONNREFUSED"))).toBeInstanceOf(DatabaseUnavailableError);
    expect(classifyDriverError(new Error("no code at all"))).toBeUndefined();
    expect(classifyDriverError(driverError("ERR_SOMETHING"))).toBeUndefined();
  });

  it("reaches a client as a fixed message and code, never the driver's text", () => {
    const cases: Array<[Error, Code]> = [
      [new DatabaseUnavailableError("connect ECONNREFUSED 10.0.0.1", undefined), Code.Unavailable],
      [new DatabaseTimeoutError("canceling statement due to statement timeout", "57014"), Code.DeadlineExceeded],
      [new DatabaseRefusedValueError("unsupported Unicode escape sequence", "22P05"), Code.InvalidArgument],
      [new DatabaseConflictError("deadlock detected", "40P01"), Code.Aborted],
      [new DatabaseLimitError("stack depth limit exceeded", "54001"), Code.ResourceExhausted],
      [new DatabaseError('relation "secret_table" does not exist', "42P01"), Code.Internal],
      [new TypeError("x is undefined"), Code.Internal],
    ];
    for (const [error, code] of cases) {
      const mapped = toConnectError(error);
      expect(mapped.code, error.message).toBe(code);
      expect(mapped.rawMessage).not.toContain(error.message);
      expect(mapped.cause).toBe(error);
    }
  });

  it("passes ConnectErrors through, and a cancelled statement ends with its caller's reason", () => {
    const own = new ConnectError("session_id: must not be empty", Code.InvalidArgument);
    expect(toConnectError(own)).toBe(own);
    const deadline = new ConnectError("the operation timed out", Code.DeadlineExceeded);
    expect(toConnectError(new DatabaseAbortError(deadline))).toBe(deadline);
    expect(toConnectError(new DatabaseAbortError("gone")).code).toBe(Code.Canceled);
  });
});
