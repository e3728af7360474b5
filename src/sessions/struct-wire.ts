/**
 * A stored JSON document straight to the protobuf wire format of google.protobuf.Struct, without
 * building Struct / Value messages on the way. On a Load that the hot cache cannot answer (a cold
 * cache, a row changed elsewhere) building the message tree and encoding it cost more CPU than
 * everything else the server does for the call (bench/RESULTS.md); walking the parsed JSON once
 * and writing each value where it goes gives the same bytes.
 *
 * The bytes are protobuf-es's own for the same Struct — field order, map entries, a null as
 * `null_value: NULL_VALUE`, numbers as doubles (test/unit/struct-wire.test.ts compares them).
 * A value a Struct cannot carry (a number beyond a double's range, read back as Infinity) is not
 * written: the caller gets `false` and serves the row the slow way, which names the problem.
 */
import { type BinaryWriter, WireType } from "@bufbuild/protobuf/wire";

// google.protobuf.Struct: map<string, Value> fields = 1 (entries: key = 1, value = 2).
// google.protobuf.Value: null_value = 1, number_value = 2, string_value = 3, bool_value = 4,
// struct_value = 5, list_value = 6. google.protobuf.ListValue: repeated Value values = 1.

/**
 * Writes `object` as the body of a Struct into `writer` (the caller frames it); false when a
 * value cannot be carried (what was written is then garbage: discard the writer).
 */
export function writeStructBody(writer: BinaryWriter, object: Record<string, unknown>): boolean {
  for (const key in object) {
    writer.tag(1, WireType.LengthDelimited).fork();
    writer.tag(1, WireType.LengthDelimited).string(key);
    writer.tag(2, WireType.LengthDelimited).fork();
    if (!writeValueBody(writer, object[key])) return false;
    writer.join();
    writer.join();
  }
  return true;
}

function writeValueBody(writer: BinaryWriter, value: unknown): boolean {
  switch (typeof value) {
    case "string":
      writer.tag(3, WireType.LengthDelimited).string(value);
      return true;
    case "number":
      if (!Number.isFinite(value)) return false;
      writer.tag(2, WireType.Bit64).double(value);
      return true;
    case "boolean":
      writer.tag(4, WireType.Varint).bool(value);
      return true;
    case "object":
      if (value === null) {
        writer.tag(1, WireType.Varint).int32(0);
        return true;
      }
      if (Array.isArray(value)) {
        writer.tag(6, WireType.LengthDelimited).fork();
        for (const item of value) {
          writer.tag(1, WireType.LengthDelimited).fork();
          if (!writeValueBody(writer, item)) return false;
          writer.join();
        }
        writer.join();
        return true;
      }
      writer.tag(5, WireType.LengthDelimited).fork();
      if (!writeStructBody(writer, value as Record<string, unknown>)) return false;
      writer.join();
      return true;
    default:
      // JSON.parse yields nothing else.
      return false;
  }
}
