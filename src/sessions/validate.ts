/**
 * Request validation: every check that decides INVALID_ARGUMENT or RESOURCE_EXHAUSTED before any
 * SQL runs, so bad input never changes stored data. Each error names the offending field.
 */
import { createHash } from "node:crypto";
import { type DescMessage, type JsonObject, type JsonValue, type MessageShape, toBinary } from "@bufbuild/protobuf";
import type { Duration, Timestamp } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SaveRequest, TouchRequest } from "../../gen/isotope/session/v1/session_pb.js";
import type { Limits } from "../config/load-config.js";
import type { Expiry, Micros, RequestKey } from "./repository/contract.js";

export function invalidArgument(field: string, problem: string): ConnectError {
  return new ConnectError(`${field}: ${problem}`, Code.InvalidArgument);
}

// C0 and C1 control characters and DEL.
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
const controlCharacter = /[\u0000-\u001f\u007f-\u009f]/;

/** A session key: 1–255 characters (VARCHAR(255)), well-formed, no control characters. */
export function sessionId(value: string, field = "session_id"): string {
  if (value.length === 0) throw invalidArgument(field, "must not be empty");
  if ([...value].length > 255) throw invalidArgument(field, "must be at most 255 characters");
  if (controlCharacter.test(value)) throw invalidArgument(field, "must not contain control characters");
  if (!value.isWellFormed()) throw invalidArgument(field, "must not contain lone surrogates");
  return value;
}

/**
 * A write's request_id as its RequestKey, or undefined when empty: 1–128 printable ASCII
 * characters. The hash covers the RPC and every other field of the request, so the key with
 * another request is refused: the JSON documents by the JSON text validation already made of them
 * (`documents`: field name → its text, undefined when unset), everything else by its binary form.
 * Either is what the client sent (a retry sends the same bytes), and hashing the text spares
 * encoding a large Struct a second time (~50 µs for a 4.5 KB session).
 */
export function requestKey<Desc extends DescMessage>(
  method: string,
  schema: Desc,
  request: MessageShape<Desc> & { requestId: string },
  documents: Record<string, string | undefined> = {},
): RequestKey | undefined {
  const id = request.requestId;
  if (id === "") return undefined;
  if (id.length > 128) throw invalidArgument("request_id", "must be at most 128 characters");
  if (!/^[\x21-\x7e]+$/.test(id)) throw invalidArgument("request_id", "must be printable ASCII without spaces");
  const rest: Record<string, unknown> = { ...request, requestId: "" };
  const hash = createHash("sha256").update(method);
  for (const [field, json] of Object.entries(documents)) {
    rest[field] = Array.isArray(rest[field]) ? [] : undefined;
    hash.update(json === undefined ? `\0${field}\0` : `\0${field}=`).update(json ?? "");
  }
  hash.update("\0").update(toBinary(schema, rest as MessageShape<Desc>));
  return { id, method, hash: hash.digest("base64") };
}

/**
 * Checks a JSON object for what PostgreSQL's jsonb or the wire cannot hold — U+0000 and lone
 * surrogates in keys and strings, non-finite numbers, nesting deeper than `maxDepth` — and returns
 * its JSON text. Iterative, so a hostile 10,000-deep value cannot overflow the stack.
 */
export function jsonDocument(value: JsonValue, field: string, limits: Limits): string {
  // Paths are for error messages: each entry keeps its parent and key, and a path is spelled out
  // only when something is wrong (a string per node was most of a Save's validation cost).
  const stack: Visit[] = [{ value, parent: undefined, key: field, depth: 1 }];
  while (stack.length > 0) {
    const visit = stack.pop() as Visit;
    const { value: node, depth } = visit;
    if (typeof node === "string") {
      checkString(node, visit);
    } else if (typeof node === "number") {
      if (!Number.isFinite(node)) throw invalidArgument(pathOf(visit), "must be a finite number (not NaN or Infinity)");
    } else if (node !== null && typeof node === "object") {
      if (depth > limits.maxDepth)
        throw invalidArgument(pathOf(visit), `nesting deeper than ${limits.maxDepth} levels`);
      if (Array.isArray(node)) {
        for (let i = 0; i < node.length; i++) {
          stack.push({ value: node[i] as JsonValue, parent: visit, key: i, depth: depth + 1 });
        }
      } else {
        for (const key in node) {
          const item: Visit = { value: node[key] as JsonValue, parent: visit, key, depth: depth + 1 };
          checkString(key, item, true);
          stack.push(item);
        }
      }
    }
  }
  return JSON.stringify(value);
}

/** A node of the document being checked: `key` is the field name at the root. */
interface Visit {
  value: JsonValue;
  parent: Visit | undefined;
  key: string | number;
  depth: number;
}

/** `field.a[2].b` for a node; a key's own problem is reported as `field.a key "b"`. */
function pathOf(visit: Visit, asKey = false): string {
  if (asKey && visit.parent !== undefined) return `${pathOf(visit.parent)} key "${printable(String(visit.key))}"`;
  const parts: string[] = [];
  for (let at: Visit | undefined = visit; at !== undefined; at = at.parent) {
    parts.push(
      at.parent === undefined ? String(at.key) : typeof at.key === "number" ? `[${at.key}]` : `.${printable(at.key)}`,
    );
  }
  return parts.reverse().join("");
}

function checkString(value: string, at: Visit, isKey = false): void {
  if (value.includes("\u0000"))
    throw invalidArgument(pathOf(at, isKey), "must not contain U+0000 (PostgreSQL jsonb cannot store it)");
  if (!value.isWellFormed())
    throw invalidArgument(pathOf(at, isKey), "must not contain lone surrogates (invalid Unicode)");
}

function printable(key: string): string {
  return key.replace(/[^\x20-\x7e]/g, "?").slice(0, 64);
}

/** RESOURCE_EXHAUSTED when the JSON text of a document is over the configured size. */
export function withinSize(json: string, field: string, limits: Limits): void {
  const bytes = Buffer.byteLength(json, "utf8");
  if (bytes > limits.maxSessionBytes) {
    throw new ConnectError(
      `${field}: ${bytes} bytes is over the limit of ${limits.maxSessionBytes} bytes (max_session_bytes)`,
      Code.ResourceExhausted,
    );
  }
}

const maxDurationSeconds = 315_576_000_000n; // google.protobuf.Duration's own bound (10,000 years)
const minTimestampSeconds = -62_135_596_800n; // 0001-01-01T00:00:00Z
const maxTimestampSeconds = 253_402_300_799n; // 9999-12-31T23:59:59Z

/** A positive Duration, in microseconds. */
export function positiveDuration(value: Duration, field: string): bigint {
  if (value.nanos < -999_999_999 || value.nanos > 999_999_999 || value.seconds > maxDurationSeconds) {
    throw invalidArgument(field, "is not a valid duration");
  }
  const micros = value.seconds * 1_000_000n + BigInt(Math.trunc(value.nanos / 1000));
  if (micros <= 0n) throw invalidArgument(field, "must be positive");
  return micros;
}

// An expiry is read back as a Timestamp, which JSON (Connect, gRPC-Web+json, curl) can only write up
// to 9999-12-31: a 10,000-year expires_in stored year 12026 and made every JSON read of that
// session — and every List page holding it — fail with INTERNAL (test/e2e/hostile.test.ts). A bound
// without a clock: 1,000 years from any date before 8999 stays inside the range.
const maxExpiresInSeconds = 31_557_600_000n; // 1,000 Julian years

/** A positive Duration of at most 1,000 years (expires_in), in microseconds. */
export function expiresIn(value: Duration, field: string): bigint {
  const micros = positiveDuration(value, field);
  if (value.seconds > maxExpiresInSeconds) throw invalidArgument(field, "must be at most 1,000 years");
  return micros;
}

/** A Timestamp within 0001–9999, in microseconds since the epoch. */
export function timestamp(value: Timestamp, field: string): Micros {
  if (
    value.nanos < 0 ||
    value.nanos > 999_999_999 ||
    value.seconds < minTimestampSeconds ||
    value.seconds > maxTimestampSeconds
  ) {
    throw invalidArgument(field, "is not a valid timestamp");
  }
  return value.seconds * 1_000_000n + BigInt(Math.trunc(value.nanos / 1000));
}

/** An integer field with a default for 0. */
export function inRange(value: number, field: string, min: number, max: number, zeroMeans: number): number {
  if (value === 0) return zeroMeans;
  if (!Number.isInteger(value) || value < min || value > max) {
    throw invalidArgument(field, `must be between ${min} and ${max} (0 means ${zeroMeans}), got ${value}`);
  }
  return value;
}

/** Save's and Touch's expiry oneof, validated; unset (or never_expire) is "never". */
export function expiry(value: SaveRequest["expiry"] | TouchRequest["expiry"]): Expiry {
  if (value.case === "expiresIn") return { kind: "in", micros: expiresIn(value.value, "expires_in") };
  if (value.case === "expiresAt") return { kind: "at", micros: timestamp(value.value, "expires_at") };
  return { kind: "never" };
}

/** List's and Restore's metadata_filter as JSON text, checked like any document; unset = none. */
export function metadataFilter(filter: JsonObject | undefined, limits: Limits): string | undefined {
  return filter === undefined ? undefined : jsonDocument(filter, "metadata_filter", limits);
}
