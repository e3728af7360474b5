/**
 * Checks every request before it is sent, for the mistakes TypeScript's types catch but plain
 * JavaScript (or a cast) lets through, and which protobuf-es would otherwise turn into a different
 * request without a word: a `data`, `metadata`, `patch` or filter that is not a plain JSON object
 * (the string '{"messages":[]}' would be stored as {}), a value inside one that JSON cannot hold
 * (a Date or Map becomes {}, a function null), an unknown oneof case (`{ case: "expires_in" }`
 * would send no expiry at all) and an unknown field name (`session_id` for `sessionId`).
 *
 * A mistake is a ConnectError with Code.InvalidArgument, as the server's own checks are, naming
 * the request and field: callers handle one kind of error, and nothing is sent.
 */
import type { DescField, DescMessage, DescOneof } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import type { SessionClient } from "./client.js";

/** Deeper than any server accepts (its max_depth is at most 100): deeper is a cycle or a mistake. */
const deepest = 200;

/** Throws a ConnectError (INVALID_ARGUMENT) naming the first mistake in `init`, a request for `schema`. */
export function checkRequest(schema: DescMessage, init: unknown): void {
  checkMessage(schema, init, schema.name);
}

/** The same client, each method checking its request first (a rejected promise, or a stream that fails). */
export function withRequestChecks(client: SessionClient, service: typeof SessionService): SessionClient {
  const checked: Record<string, unknown> = { ...client };
  const methods = client as unknown as Record<string, (input: unknown, options?: unknown) => unknown>;
  for (const method of service.methods) {
    const call = methods[method.localName];
    if (call === undefined) continue;
    checked[method.localName] =
      method.methodKind === "unary"
        ? (input: unknown, options?: unknown) => {
            try {
              checkRequest(method.input, input);
            } catch (error) {
              return Promise.reject(error);
            }
            return call(input, options);
          }
        : (input: unknown, options?: unknown) =>
            (async function* () {
              checkRequest(method.input, input);
              yield* call(input, options) as AsyncIterable<unknown>;
            })();
  }
  return checked as unknown as SessionClient;
}

function checkMessage(desc: DescMessage, init: unknown, path: string): void {
  if (!isPlainObject(init) && !isMessage(init)) fail(path, `must be an object, got ${describe(init)}`);
  const members = new Map<string, DescField | DescOneof>(desc.members.map((m) => [m.localName, m]));
  for (const [key, value] of Object.entries(init as object)) {
    if (key === "$typeName" || key === "$unknown") continue;
    const member = members.get(key);
    if (member === undefined) fail(path, `has no field "${key}"${suggest(key, [...members.values()])}`);
    if (value === undefined) continue;
    if (member.kind === "oneof") checkOneof(member, value, `${path}.${key}`);
    else checkField(member, value, `${path}.${key}`);
  }
}

function checkOneof(oneof: DescOneof, value: unknown, path: string): void {
  if (!isPlainObject(value) || !("case" in value)) {
    fail(path, `must be { case, value } with case one of ${names(oneof.fields)}, got ${describe(value)}`);
  }
  const chosen = (value as { case: unknown; value?: unknown }).case;
  if (chosen === undefined) return;
  const field = oneof.fields.find((f) => f.localName === chosen);
  if (field === undefined) fail(path, `unknown case ${JSON.stringify(chosen)}${suggest(String(chosen), oneof.fields)}`);
  const inner = (value as { value?: unknown }).value;
  if (inner === undefined) fail(path, `case "${field.localName}" needs a value`);
  checkField(field, inner, `${path}.${field.localName}`);
}

function checkField(field: DescField, value: unknown, path: string): void {
  if (field.fieldKind === "message") {
    if (field.message.typeName === "google.protobuf.Struct") checkJsonObject(value, path);
    else checkMessage(field.message, value, path);
  } else if (field.fieldKind === "list" && field.listKind === "message") {
    if (!Array.isArray(value)) fail(path, `must be an array, got ${describe(value)}`);
    const struct = field.message.typeName === "google.protobuf.Struct";
    value.forEach((item, i) => {
      if (struct) checkJsonObject(item, `${path}[${i}]`);
      else checkMessage(field.message, item, `${path}[${i}]`);
    });
  }
}

function checkJsonObject(value: unknown, path: string): void {
  if (!isPlainObject(value)) fail(path, `must be a plain JSON object, got ${describe(value)}`);
  checkJson(value, path, 1);
}

function checkJson(value: unknown, path: string, depth: number): void {
  if (value === null || typeof value === "string" || typeof value === "boolean" || typeof value === "number") return;
  if (depth > deepest) fail(path, `is nested deeper than ${deepest} levels (a cycle?)`);
  if (Array.isArray(value)) {
    value.forEach((item, i) => {
      checkJson(item, `${path}[${i}]`, depth + 1);
    });
  } else if (isPlainObject(value)) {
    for (const [key, item] of Object.entries(value)) checkJson(item, `${path}.${key}`, depth + 1);
  } else {
    fail(path, `${describe(value)} is not JSON (toSessionData() converts engine state to JSON)`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== "object") return false;
  const prototype = Object.getPrototypeOf(value);
  return prototype === Object.prototype || prototype === null;
}

function isMessage(value: unknown): boolean {
  return isPlainObject(value) && typeof value.$typeName === "string";
}

function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  if (typeof value === "object") return `a ${value.constructor?.name ?? "object"}`;
  return typeof value === "undefined" ? "undefined" : `a ${typeof value}`;
}

function names(fields: readonly DescField[]): string {
  return fields.map((f) => `"${f.localName}"`).join(", ");
}

/** " (did you mean "expiresIn"?)" for the proto name or another spelling of a known field. */
function suggest(key: string, known: ReadonlyArray<DescField | DescOneof>): string {
  const squash = (s: string) => s.replaceAll("_", "").toLowerCase();
  const match = known.find((m) => m.name === key || squash(m.localName) === squash(key));
  return match === undefined
    ? ` (fields: ${known.map((m) => `"${m.localName}"`).join(", ")})`
    : ` (did you mean "${match.localName}"?)`;
}

function fail(path: string, problem: string): never {
  throw new ConnectError(`${path}: ${problem} (checked by the client, nothing was sent)`, Code.InvalidArgument);
}
