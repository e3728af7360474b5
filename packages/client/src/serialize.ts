/**
 * toSessionData: engine state → a JSON object ready for SaveRequest.data — the seed's "smart
 * serialization". What cannot be stored is dropped and reported, never thrown:
 * functions, symbols and undefined are dropped; cycles are cut; Date → ISO string; BigInt →
 * string; Map → object; Set → array; typed arrays, ArrayBuffers and Buffers → base64; objects
 * with toJSON (LangChain.js messages, for instance) → their JSON; NaN / ±Infinity → dropped;
 * U+0000 is removed from strings (PostgreSQL's jsonb cannot hold it); a value whose JSON is over
 * the size budget is skipped.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";

export interface Dropped {
  /** Where in the input, e.g. "data.messages[2].callback". */
  path: string;
  reason: string;
}

export interface SerializeOptions {
  /** Largest JSON size of any one value, in bytes (default 1 MiB); larger ones are skipped. */
  maxValueBytes?: number;
  /** Deepest nesting kept (default 64, below the server's limit of 100). */
  maxDepth?: number;
}

export function toSessionData(
  value: unknown,
  options: SerializeOptions = {},
): { data: JsonObject; dropped: Dropped[] } {
  const maxValueBytes = options.maxValueBytes ?? 1024 * 1024;
  const maxDepth = options.maxDepth ?? 64;
  const dropped: Dropped[] = [];
  const ancestors = new Set<object>();

  const convert = (input: unknown, path: string, depth: number): JsonValue | undefined => {
    switch (typeof input) {
      case "string":
        if (input.includes("\u0000")) dropped.push({ path, reason: "U+0000 removed from string" });
        return input.replaceAll("\u0000", "").toWellFormed();
      case "boolean":
        return input;
      case "number":
        if (Number.isFinite(input)) return input;
        dropped.push({ path, reason: `non-finite number ${input}` });
        return undefined;
      case "bigint":
        return input.toString();
      case "undefined":
        return undefined;
      case "function":
      case "symbol":
        dropped.push({ path, reason: `${typeof input} cannot be stored` });
        return undefined;
    }
    if (input === null) return null;
    const object = input as object;
    if (ancestors.has(object)) {
      dropped.push({ path, reason: "circular reference" });
      return undefined;
    }
    if (depth > maxDepth) {
      dropped.push({ path, reason: `nested deeper than ${maxDepth} levels` });
      return undefined;
    }
    if (object instanceof Date) return Number.isNaN(object.getTime()) ? null : object.toISOString();
    if (ArrayBuffer.isView(object)) {
      return Buffer.from(object.buffer, object.byteOffset, object.byteLength).toString("base64");
    }
    if (object instanceof ArrayBuffer) return Buffer.from(object).toString("base64");
    ancestors.add(object);
    try {
      if (typeof (object as { toJSON?: unknown }).toJSON === "function") {
        return convert((object as { toJSON(): unknown }).toJSON(), path, depth);
      }
      if (object instanceof Map) {
        return convertEntries(
          [...object].map(([k, v]) => [String(k), v]),
          path,
          depth,
        );
      }
      if (object instanceof Set || Array.isArray(object)) {
        const items: JsonValue[] = [];
        [...(object as Iterable<unknown>)].forEach((item, i) => {
          const converted = budgeted(item, `${path}[${i}]`, depth + 1);
          // Arrays keep their positions: what cannot be stored becomes null, as JSON.stringify does.
          items.push(converted === undefined ? null : converted);
        });
        return items;
      }
      return convertEntries(Object.entries(object), path, depth);
    } finally {
      ancestors.delete(object);
    }
  };

  const convertEntries = (entries: Array<[string, unknown]>, path: string, depth: number): JsonObject => {
    const result: JsonObject = {};
    for (const [key, item] of entries) {
      const clean = key.replaceAll("\u0000", "").toWellFormed();
      const converted = budgeted(item, `${path}.${clean}`, depth + 1);
      if (converted !== undefined) result[clean] = converted;
    }
    return result;
  };

  const budgeted = (input: unknown, path: string, depth: number): JsonValue | undefined => {
    const converted = convert(input, path, depth);
    if (converted !== null && typeof converted === "object") {
      const bytes = Buffer.byteLength(JSON.stringify(converted));
      if (bytes > maxValueBytes) {
        dropped.push({ path, reason: `${bytes} bytes is over the budget of ${maxValueBytes}` });
        return undefined;
      }
    } else if (typeof converted === "string" && converted.length > maxValueBytes) {
      dropped.push({ path, reason: `string of ${converted.length} characters is over the budget of ${maxValueBytes}` });
      return undefined;
    }
    return converted;
  };

  const root = convert(value, "data", 1);
  if (root === null || root === undefined || typeof root !== "object" || Array.isArray(root)) {
    return { data: root === undefined || root === null ? {} : { value: root }, dropped };
  }
  return { data: root, dropped };
}
