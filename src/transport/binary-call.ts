/**
 * Which requests the transport reads itself: a call to a registered unary or server-streaming
 * method, in gRPC, gRPC-Web or Connect, with a protobuf (binary) body — uncompressed, with a
 * deadline header that parses. Everything else (JSON, gRPC-Web text, compression, a malformed
 * deadline, a verb or content type the protocol refuses, client and bidi streams, unknown paths)
 * stays connect-es's to answer, as it always has.
 *
 * Content types and deadline headers are read with connect-es's own parsers (its public protocol
 * modules), so the two never disagree about what a request is.
 */
import type { IncomingHttpHeaders } from "node:http";
import { MethodOptions_IdempotencyLevel } from "@bufbuild/protobuf/wkt";
import type { MethodImplSpec } from "@connectrpc/connect";
import * as connect from "@connectrpc/connect/protocol-connect";
import * as grpc from "@connectrpc/connect/protocol-grpc";
import * as grpcWeb from "@connectrpc/connect/protocol-grpc-web";
import type { NodeRequest } from "./node-handler.js";
import type { RegisteredMethods } from "./registered-methods.js";

export type Protocol = "grpc" | "grpc-web" | "connect";

export interface BinaryCall {
  /** A unary or server-streaming method. */
  spec: MethodImplSpec;
  protocol: Protocol;
  /** A Connect GET's query, which holds the message (see request-message.ts); there is no body. */
  query: URLSearchParams | undefined;
  timeoutMs: number | undefined;
}

export function recogniseBinaryCall(req: NodeRequest, methods: RegisteredMethods): BinaryCall | undefined {
  const url = req.url ?? "";
  const queryStart = url.indexOf("?");
  const spec = methods.get(queryStart < 0 ? url : url.slice(0, queryStart));
  if (spec === undefined || (spec.kind !== "unary" && spec.kind !== "server_streaming")) return undefined;
  const headers = req.headers;
  const contentType = headers["content-type"] ?? null;

  if (req.method === "GET") {
    // Connect's GET: a side-effect-free unary method, its message in the query.
    if (spec.kind !== "unary" || spec.method.idempotency !== MethodOptions_IdempotencyLevel.NO_SIDE_EFFECTS) {
      return undefined;
    }
    if (contentType !== null && connect.parseContentType(contentType)?.stream !== false) return undefined;
    const query = new URLSearchParams(queryStart < 0 ? "" : url.slice(queryStart + 1));
    if (query.get("encoding") !== "proto" || !uncompressed(query.get("compression"))) return undefined;
    return withTimeout(spec, "connect", connect.parseTimeout(field(headers, "connect-timeout-ms"), noMaximum), query);
  }
  if (req.method !== "POST") return undefined;
  const protocol = protocolOf(contentType, spec.kind === "unary");
  if (protocol === undefined) return undefined;
  if (protocol === "connect") {
    const encoding = spec.kind === "unary" ? "content-encoding" : "connect-content-encoding";
    if (!uncompressed(field(headers, encoding))) return undefined;
    return withTimeout(spec, protocol, connect.parseTimeout(field(headers, "connect-timeout-ms"), noMaximum));
  }
  if (!uncompressed(field(headers, "grpc-encoding"))) return undefined;
  return withTimeout(spec, protocol, grpc.parseTimeout(field(headers, "grpc-timeout"), noMaximum));
}

/** The protocol of a binary body, by content type; undefined for JSON, gRPC-Web text and the rest. */
function protocolOf(contentType: string | null, unary: boolean): Protocol | undefined {
  if (grpc.parseContentType(contentType)?.binary) return "grpc";
  const web = grpcWeb.parseContentType(contentType);
  if (web !== undefined) return web.binary && !web.text ? "grpc-web" : undefined;
  const type = connect.parseContentType(contentType);
  // Connect has distinct content types for unary and streaming calls; the wrong one is a 415.
  return type?.binary && type.stream !== unary ? "connect" : undefined;
}

/** No deadline is too long here, as in connect-es by default. */
const noMaximum = Number.MAX_SAFE_INTEGER;

function withTimeout(
  spec: MethodImplSpec,
  protocol: Protocol,
  timeout: { timeoutMs?: number; error?: unknown },
  query?: URLSearchParams,
): BinaryCall | undefined {
  // A deadline that does not parse is connect-es's to refuse.
  if (timeout.error !== undefined) return undefined;
  return { spec, protocol, query, timeoutMs: timeout.timeoutMs };
}

/** No compression is ever negotiated (the router accepts none): a compressed call is connect-es's to refuse. */
const uncompressed = (encoding: string | null) => encoding === null || encoding === "identity";

const field = (headers: IncomingHttpHeaders, name: string) => {
  const value = headers[name];
  return typeof value === "string" ? value : null;
};
