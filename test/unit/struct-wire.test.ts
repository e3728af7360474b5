// A stored document written straight to Struct's wire format (src/sessions/struct-wire.ts) is,
// byte for byte, what protobuf-es writes for the same Struct — so a Load answered from JSON text
// decodes, in any client, to the document that was saved.
import { fromBinary, fromJson, type JsonObject, toBinary } from "@bufbuild/protobuf";
import { StructSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { encodeStruct } from "../../src/sessions/struct-wire.js";

const direct = (document: Record<string, unknown>) => encodeStruct(document);

const documents: Record<string, JsonObject> = {
  empty: {},
  "a chat": {
    messages: [
      { role: "user", content: "你好，世界 🌍", ts: 1_700_000_000 },
      { role: "assistant", content: 'hi\nthere "quoted" \\ back', ts: 1_700_000_001.5 },
    ],
    files: {},
    tasks: [],
    context: { generation: 3, done: false, parent: null },
  },
  "every kind of value, nested": {
    s: "",
    n: -0.000_001,
    big: 9_007_199_254_740_992,
    t: true,
    f: false,
    z: null,
    list: [1, "two", null, [3, [4, {}]], { deep: { deeper: [true] } }],
    "key with spaces and ключ": { "": "empty key" },
    "42": "an integer-like key",
  },
};

describe("JSON text → Struct wire bytes", () => {
  it.each(Object.entries(documents))("%s: the bytes protobuf-es writes", (_, document) => {
    const parsed = JSON.parse(JSON.stringify(document)) as JsonObject;
    const expected = toBinary(StructSchema, fromJson(StructSchema, parsed));
    expect(Buffer.from(direct(parsed) as Uint8Array).toString("hex")).toBe(Buffer.from(expected).toString("hex"));
    expect(fromBinary(StructSchema, direct(parsed) as Uint8Array)).toEqual(fromJson(StructSchema, parsed));
  });

  it("refuses a number a double cannot hold (JSON's 1e400 parses as Infinity)", () => {
    expect(direct(JSON.parse('{"ok": 1, "nested": {"huge": [1e400]}}') as JsonObject)).toBeUndefined();
  });
});
