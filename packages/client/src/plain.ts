/**
 * toPlain: any request or response of isotope.session.v1 as a JSON-safe plain object, for logs,
 * HTTP replies and `JSON.stringify`, which throws on the bigints protobuf-es uses for int64.
 *
 * - int64 / uint64 (version, message_count, the statistics' counts) → a number when it is a safe
 *   integer (|n| ≤ 2^53 − 1), else a decimal string: a count never loses a digit.
 * - Timestamp → an RFC 3339 / ISO 8601 UTC string ("2024-01-02T03:04:05.123456Z", microseconds
 *   kept); Duration → its protobuf JSON string ("0.012s").
 * - enums → their names ("DURABILITY_DATABASE"); an unknown number stays a number.
 * - a oneof → its chosen field under its own name (`expiresIn: "86400s"`), as in protobuf JSON.
 * - data, metadata and other Struct fields are plain JSON already and are kept as they are; bytes →
 *   base64. Unset message fields and unset optional fields are left out.
 *
 * Keys are the TypeScript field names (sessionId, lastUpdated), the same as protobuf JSON's.
 */
import {
  createRegistry,
  type DescField,
  type DescMessage,
  type JsonObject,
  type JsonValue,
  type Message,
  ScalarType,
  toJson,
} from "@bufbuild/protobuf";
import { file_isotope_session_v1_session } from "../../../gen/isotope/session/v1/session_pb.js";

const registry = createRegistry(file_isotope_session_v1_session);

/** A JSON-safe copy of `message`, a message of isotope.session.v1 (a TypeError for any other). */
export function toPlain(message: Message): JsonObject {
  const desc = registry.getMessage(message.$typeName);
  if (desc === undefined) throw new TypeError(`toPlain: ${message.$typeName} is not a message of isotope.session.v1`);
  return plainMessage(desc, message) as JsonObject;
}

function plainMessage(desc: DescMessage, message: unknown): JsonValue {
  if (desc.typeName.startsWith("google.protobuf.")) return toJson(desc, message as Message);
  const fields = message as Record<string, unknown>;
  const plain: JsonObject = {};
  for (const member of desc.members) {
    if (member.kind === "oneof") {
      const chosen = fields[member.localName] as { case?: string; value?: unknown } | undefined;
      const field = member.fields.find((f) => f.localName === chosen?.case);
      if (field !== undefined) plain[field.localName] = plainField(field, chosen?.value);
    } else if (fields[member.localName] !== undefined) {
      plain[member.localName] = plainField(member, fields[member.localName]);
    }
  }
  return plain;
}

function plainField(field: DescField, value: unknown): JsonValue {
  switch (field.fieldKind) {
    case "scalar":
      return plainScalar(field.scalar, value);
    case "enum":
      return enumName(field.enum.values, value);
    case "message":
      return field.message.typeName === "google.protobuf.Struct"
        ? (value as JsonObject)
        : plainMessage(field.message, value);
    case "list": {
      const items = value as unknown[];
      if (field.listKind === "scalar") return items.map((item) => plainScalar(field.scalar, item));
      if (field.listKind === "enum") return items.map((item) => enumName(field.enum.values, item));
      const message = field.message;
      return message.typeName === "google.protobuf.Struct"
        ? (items as JsonObject[])
        : items.map((item) => plainMessage(message, item));
    }
    case "map": {
      const entries = Object.entries(value as Record<string, unknown>);
      return Object.fromEntries(
        entries.map(([key, item]) => [
          key,
          field.mapKind === "message"
            ? plainMessage(field.message, item)
            : field.mapKind === "enum"
              ? enumName(field.enum.values, item)
              : plainScalar(field.scalar, item),
        ]),
      );
    }
  }
}

function plainScalar(type: ScalarType, value: unknown): JsonValue {
  if (typeof value === "bigint") {
    const number = Number(value);
    return Number.isSafeInteger(number) ? number : value.toString();
  }
  if (type === ScalarType.BYTES) return Buffer.from(value as Uint8Array).toString("base64");
  if (typeof value === "number" && !Number.isFinite(value)) return String(value);
  return value as JsonValue;
}

function enumName(values: ReadonlyArray<{ number: number; name: string }>, value: unknown): JsonValue {
  return values.find((v) => v.number === value)?.name ?? (value as number);
}
