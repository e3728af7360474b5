/**
 * A request's parameters, by name, from its query string and the top-level fields of its JSON
 * body, read as the types an endpoint asks for. Only the shape is checked here (a boolean, an
 * integer, an object): what a value may be is the RPC's validation, which every call goes through.
 * Each problem is INVALID_ARGUMENT naming the parameter: a name given twice, or both in the query
 * and the body; a name the endpoint does not know; a value of the wrong type. A body field set to
 * null counts as not given.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";

export interface Params {
  boolean(name: string): boolean | undefined;
  /** An integer in [min, max] (the range of the RPC field's type). */
  integer(name: string, min: number, max: number): number | undefined;
  number(name: string): number | undefined;
  string(name: string): string | undefined;
  object(name: string): JsonObject | undefined;
  /**
   * Containment filter on metadata: `metadata_filter` (a JSON object), each `metadata.<key>=value`
   * query parameter and, where the endpoint allows it, each query parameter it does not know
   * (`user_id=u1`). Query values are strings.
   */
  metadataFilter(): JsonObject | undefined;
}

export interface ParamRules {
  /** The names the endpoint reads. */
  known: readonly string[];
  /** Query parameters the endpoint does not know are metadata filters (List, Restore). */
  filters?: boolean;
}

type Given = { from: "query"; text: string } | { from: "body"; value: JsonValue };

export function invalid(name: string, problem: string): ConnectError {
  return new ConnectError(`${name}: ${problem}`, Code.InvalidArgument);
}

export function readParams(query: URLSearchParams, body: JsonObject | undefined, rules: ParamRules): Params {
  const known = new Set(rules.known);
  const given = new Map<string, Given>();
  const filterPairs: Array<[string, string]> = [];
  const seen = new Set<string>();
  for (const [name, text] of query) {
    if (seen.has(name)) throw invalid(name, "is given more than once");
    seen.add(name);
    if (known.has(name)) given.set(name, { from: "query", text });
    else if (name.startsWith("metadata.") && known.has("metadata_filter")) filterPairs.push([name.slice(9), text]);
    else if (rules.filters) filterPairs.push([name, text]);
    else throw unknown(name, "query parameter", rules.known);
  }
  for (const [name, value] of Object.entries(body ?? {})) {
    if (!known.has(name)) throw unknown(name, "field", rules.known);
    // null is "not given", as None is for the seed's keyword arguments.
    if (value === null) continue;
    if (given.has(name)) throw invalid(name, "is given both in the query and in the body");
    given.set(name, { from: "body", value });
  }

  /** The value of `name` as `what` (undefined when not given), or INVALID_ARGUMENT. */
  const read = <T>(
    name: string,
    what: string,
    fromText: (text: string) => T | undefined,
    fromValue: (value: JsonValue) => T | undefined,
  ): T | undefined => {
    const entry = given.get(name);
    if (entry === undefined) return undefined;
    const value = entry.from === "query" ? fromText(entry.text) : fromValue(entry.value);
    if (value === undefined) throw invalid(name, `must be ${what}`);
    return value;
  };
  const when =
    <T>(ok: (value: JsonValue) => boolean) =>
    (value: JsonValue) =>
      ok(value) ? (value as T) : undefined;

  const params: Params = {
    boolean: (name) =>
      read(
        name,
        "true or false",
        (text) => booleans.get(text),
        when<boolean>((value) => typeof value === "boolean"),
      ),
    integer(name, min, max) {
      const inRange = (value: number) => (Number.isInteger(value) && value >= min && value <= max ? value : undefined);
      return read(
        name,
        `an integer from ${min} to ${max}`,
        (text) => (/^-?[0-9]{1,16}$/.test(text) ? inRange(Number(text)) : undefined),
        (value) => (typeof value === "number" ? inRange(value) : undefined),
      );
    },
    number: (name) =>
      read(
        name,
        "a number",
        (text) => (text.trim() !== "" && Number.isFinite(Number(text)) ? Number(text) : undefined),
        when<number>((value) => typeof value === "number"),
      ),
    string: (name) =>
      read(
        name,
        "a string",
        (text) => text,
        when<string>((value) => typeof value === "string"),
      ),
    object: (name) =>
      read(
        name,
        "a JSON object",
        (text) => {
          const value = parseJson(text);
          return value !== undefined && isObject(value) ? (value as JsonObject) : undefined;
        },
        when<JsonObject>(isObject),
      ),
    metadataFilter() {
      const entries: Array<[string, JsonValue]> = Object.entries(params.object("metadata_filter") ?? {});
      const keys = new Set(entries.map(([key]) => key));
      for (const [key, value] of filterPairs) {
        if (keys.has(key)) throw invalid(`metadata.${key}`, "is given more than once");
        keys.add(key);
        entries.push([key, value]);
      }
      // fromEntries: a key such as "__proto__" stays a key.
      return entries.length > 0 || given.has("metadata_filter") ? Object.fromEntries(entries) : undefined;
    },
  };
  return params;
}

const booleans = new Map([
  ["true", true],
  ["false", false],
  ["1", true],
  ["0", false],
  // A bare flag: `?hard`.
  ["", true],
]);

const isObject = (value: JsonValue): boolean => value !== null && typeof value === "object" && !Array.isArray(value);

/**
 * JSON text as a value, or undefined when it is not JSON. A number beyond a double's range is
 * refused here: JSON.parse would make it Infinity, which no RPC message can carry.
 */
export function parseJson(text: string): JsonValue | undefined {
  try {
    // Only text that could hold such a number (a 3-digit exponent, 309 digits) pays for a reviver.
    return JSON.parse(text, mayOverflow.test(text) ? refuseInfinity : undefined) as JsonValue;
  } catch {
    return undefined;
  }
}

const mayOverflow = /[eE][+]?[0-9]{3}|[0-9]{309}/;

function refuseInfinity(_key: string, value: unknown): unknown {
  if (typeof value === "number" && !Number.isFinite(value)) throw new RangeError("number out of range");
  return value;
}

function unknown(name: string, what: string, known: readonly string[]): ConnectError {
  const names = known.length === 0 ? "it takes none" : `known: ${known.join(", ")}`;
  return invalid(name, `unknown ${what} (${names})`);
}
