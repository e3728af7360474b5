// Which requests the transport reads itself and which stay connect-es's: decided from the method,
// the verb, the content type and the headers alone, before a byte of the body is read.
import { Code, ConnectError, createConnectRouter } from "@connectrpc/connect";
import { describe, expect, it } from "vitest";
import { ServerReflection } from "../../gen/grpc/reflection/v1/reflection_pb.js";
import { Health } from "../../gen/health/v1/health_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { recogniseBinaryCall } from "../../src/transport/binary-call.js";
import type { NodeRequest } from "../../src/transport/node-handler.js";
import { registerRoutes } from "../../src/transport/registered-methods.js";

const router = createConnectRouter();
const methods = registerRoutes(router, (r) => {
  r.service(SessionService, {});
  r.service(ServerReflection, {});
  // Options of its own: only connect-es knows how to apply them.
  r.service(Health, {}, { readMaxBytes: 10 });
});

const request = (method: string, url: string, headers: Record<string, string> = {}) =>
  ({ method, url, headers }) as unknown as NodeRequest;
const post = (url: string, contentType: string, headers: Record<string, string> = {}) =>
  request("POST", url, { "content-type": contentType, ...headers });
const recognised = (req: NodeRequest) => {
  const call = recogniseBinaryCall(req, methods);
  return (
    call && { protocol: call.protocol, kind: call.spec.kind, timeoutMs: call.timeoutMs, get: call.query !== undefined }
  );
};

const load = "/isotope.session.v1.SessionService/Load";
const save = "/isotope.session.v1.SessionService/Save";
const restoreStream = "/isotope.session.v1.SessionService/RestoreStream";

describe("registerRoutes", () => {
  it("registers everything on the router and lists the methods registered without options", () => {
    expect(router.handlers.map((h) => h.requestPath)).toContain("/grpc.health.v1.Health/Check");
    expect(methods.has(load)).toBe(true);
    expect(methods.get(restoreStream)?.kind).toBe("server_streaming");
    expect(methods.has("/grpc.health.v1.Health/Check")).toBe(false);
  });

  it("a method the implementation leaves out answers UNIMPLEMENTED, as on the router", async () => {
    const spec = methods.get(load);
    if (spec?.kind !== "unary") throw new Error("Load is unary");
    const failure = await Promise.resolve()
      .then(() => spec.impl({} as never, {} as never))
      .catch((error: unknown) => ConnectError.from(error).code);
    expect(failure).toBe(Code.Unimplemented);
  });
});

describe("recogniseBinaryCall", () => {
  it("takes gRPC, gRPC-Web and Connect calls with a protobuf body", () => {
    expect(recognised(post(load, "application/grpc"))).toMatchObject({ protocol: "grpc", kind: "unary" });
    expect(recognised(post(load, "application/grpc+proto"))).toMatchObject({ protocol: "grpc" });
    expect(recognised(post(load, "application/grpc-web"))).toMatchObject({ protocol: "grpc-web" });
    expect(recognised(post(load, "application/grpc-web+proto"))).toMatchObject({ protocol: "grpc-web" });
    expect(recognised(post(load, "application/proto"))).toMatchObject({ protocol: "connect", get: false });
    expect(recognised(post(restoreStream, "application/grpc"))).toMatchObject({ kind: "server_streaming" });
    expect(recognised(post(restoreStream, "application/connect+proto"))).toMatchObject({ protocol: "connect" });
  });

  it("leaves JSON, gRPC-Web text and unknown content types to connect-es", () => {
    for (const type of ["application/grpc+json", "application/grpc-web+json", "application/json", "text/plain"]) {
      expect(recognised(post(load, type))).toBeUndefined();
    }
    expect(recognised(post(load, "application/grpc-web-text"))).toBeUndefined();
    expect(recognised(request("POST", load))).toBeUndefined();
  });

  it("leaves Connect's unary content type on a stream, and its stream type on a unary call, to its 415", () => {
    expect(recognised(post(restoreStream, "application/proto"))).toBeUndefined();
    expect(recognised(post(load, "application/connect+proto"))).toBeUndefined();
  });

  it("reads deadlines, and leaves one that does not parse to connect-es's refusal", () => {
    expect(recognised(post(load, "application/grpc", { "grpc-timeout": "2S" }))?.timeoutMs).toBe(2000);
    expect(recognised(post(load, "application/proto", { "connect-timeout-ms": "150" }))?.timeoutMs).toBe(150);
    expect(recognised(post(load, "application/grpc"))?.timeoutMs).toBeUndefined();
    expect(recognised(post(load, "application/grpc", { "grpc-timeout": "soon" }))).toBeUndefined();
    expect(recognised(post(load, "application/proto", { "connect-timeout-ms": "-1" }))).toBeUndefined();
  });

  it("leaves compressed calls to connect-es, which accepts no compression", () => {
    expect(recognised(post(load, "application/grpc", { "grpc-encoding": "identity" }))).toBeDefined();
    expect(recognised(post(load, "application/grpc", { "grpc-encoding": "gzip" }))).toBeUndefined();
    expect(recognised(post(load, "application/proto", { "content-encoding": "gzip" }))).toBeUndefined();
    expect(
      recognised(post(restoreStream, "application/connect+proto", { "connect-content-encoding": "br" })),
    ).toBeUndefined();
  });

  it("takes Connect GET with encoding=proto, only for a side-effect-free unary method", () => {
    expect(recognised(request("GET", `${load}?encoding=proto&base64=1&message=CgE`))).toMatchObject({
      protocol: "connect",
      get: true,
    });
    expect(recognised(request("GET", `${load}?encoding=json&message=%7B%7D`))).toBeUndefined();
    expect(recognised(request("GET", `${load}?encoding=proto&compression=gzip&message=`))).toBeUndefined();
    expect(recognised(request("GET", `${save}?encoding=proto&message=`))).toBeUndefined();
    expect(recognised(request("GET", `${restoreStream}?encoding=proto&message=`))).toBeUndefined();
  });

  it("leaves other verbs, bidi streams, unknown paths and services with options of their own alone", () => {
    expect(recognised(request("PUT", load, { "content-type": "application/grpc" }))).toBeUndefined();
    const reflection = "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo";
    expect(recognised(post(reflection, "application/grpc"))).toBeUndefined();
    expect(recognised(post("/evil.Service/Load", "application/grpc"))).toBeUndefined();
    expect(recognised(post("/grpc.health.v1.Health/Check", "application/grpc"))).toBeUndefined();
  });
});
