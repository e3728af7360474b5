// The request message from the wire: each framing fault gets connect-es's code for it, and bytes
// that are not the request message are the caller's fault — INVALID_ARGUMENT, naming the type.
import { create, toBinary } from "@bufbuild/protobuf";
import { base64Encode } from "@bufbuild/protobuf/wire";
import { Code, ConnectError } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { LoadRequestSchema } from "../../gen/isotope/session/v1/session_pb.js";
import { connectGetMessage, decodeRequest, singleEnvelopedMessage } from "../../src/transport/request-message.js";
import { envelope } from "../support/transport.js";

const codeOf = (read: () => unknown) => {
  try {
    read();
    return "OK";
  } catch (error) {
    return Code[ConnectError.from(error).code];
  }
};
const message = toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: "s1" }));

describe("singleEnvelopedMessage", () => {
  const limit = 1024;
  it("returns the one message", () => {
    expect([...singleEnvelopedMessage(envelope(message), limit)]).toEqual([...message]);
    expect(singleEnvelopedMessage(envelope(new Uint8Array()), limit).byteLength).toBe(0);
  });

  it.each([
    ["no message at all", Buffer.alloc(0), "Unimplemented"],
    ["a truncated envelope", Buffer.from([0, 0, 0]), "InvalidArgument"],
    ["a length beyond the body", envelope(message).subarray(0, 7), "InvalidArgument"],
    ["two messages", Buffer.concat([envelope(message), envelope(message)]), "Unimplemented"],
    ["the compressed flag", envelope(message, 1), "Internal"],
    ["a length over readMaxBytes", envelope(Buffer.alloc(limit + 1)), "ResourceExhausted"],
  ])("%s: %s", (_, body, code) => {
    expect(codeOf(() => singleEnvelopedMessage(body, limit))).toBe(code);
  });
});

describe("connectGetMessage", () => {
  const query = (params: Record<string, string>) => new URLSearchParams(params);
  it("reads base64url (base64=1) or the text itself", () => {
    expect(connectGetMessage(query({ base64: "1", message: base64Encode(message, "url") }), 1024)).toEqual(message);
    expect(connectGetMessage(query({ message: "ab" }), 1024)).toEqual(new TextEncoder().encode("ab"));
    expect(connectGetMessage(query({}), 1024)).toEqual(new Uint8Array());
  });

  it("refuses what is not base64 (INVALID_ARGUMENT) and what is too long", () => {
    expect(codeOf(() => connectGetMessage(query({ base64: "1", message: "!!!!" }), 1024))).toBe("InvalidArgument");
    expect(codeOf(() => connectGetMessage(query({ message: "x".repeat(11) }), 10))).toBe("ResourceExhausted");
  });
});

describe("decodeRequest", () => {
  it("decodes the message", () => {
    expect(decodeRequest(LoadRequestSchema, message, {}).sessionId).toBe("s1");
  });

  it("bytes that are not the message: INVALID_ARGUMENT naming the type, the cause kept", () => {
    let error: ConnectError | undefined;
    try {
      decodeRequest(LoadRequestSchema, new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f]), {});
    } catch (caught) {
      error = caught as ConnectError;
    }
    expect(error?.code).toBe(Code.InvalidArgument);
    expect(error?.rawMessage).toContain("isotope.session.v1.LoadRequest");
    expect(error?.cause).toBeInstanceOf(Error);
  });

  it("a message nested past the recursion limit: INVALID_ARGUMENT", () => {
    // LoadRequest field 1 is a string: nest unknown groups instead, which the reader must descend.
    const groups = Buffer.concat([Buffer.alloc(200, 0x7b), Buffer.alloc(200, 0x7c)]);
    expect(codeOf(() => decodeRequest(LoadRequestSchema, groups, { recursionLimit: 50 }))).toBe("InvalidArgument");
  });
});
