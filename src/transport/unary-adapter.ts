/**
 * The transport's own adapter for unary calls with a protobuf body — gRPC, gRPC-Web and Connect
 * (POST, and GET with encoding=proto), over HTTP/1.1 and HTTP/2 — which connect-es's router would
 * otherwise serve. It reads the one request message straight off the request, decodes it with
 * protobuf-es, runs the router's interceptors and the method's implementation (unary-invoke.ts),
 * and writes the answer in the caller's protocol (protocol-answers.ts) in one go.
 *
 * Why our own: connect-es answers INTERNAL for a body protobuf cannot decode (hard-coded in its
 * binary serialization), which tells a caller that sent garbage that the server is broken; here it
 * is INVALID_ARGUMENT. And a unary call is the hot path: connect-es's universal handler spends most
 * of its per-call CPU in protocol machinery (async-iterable pipes, request/response adapters, an
 * AbortController aborted with a fresh DOMException per call) — see bench/RESULTS.md.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { Http2ServerRequest } from "node:http2";
import type { TLSSocket } from "node:tls";
import type { BinaryReadOptions, JsonWriteOptions } from "@bufbuild/protobuf";
import type { ConnectError, MethodImplSpec } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { BinaryCall } from "./binary-call.js";
import { traceparentOf } from "./call-origin.js";
import type { NodeRequest, NodeResponse } from "./node-handler.js";
import { writeUnaryAnswer } from "./protocol-answers.js";
import { readBody, watchClient } from "./request-body.js";
import {
  bodyTooLarge,
  connectGetMessage,
  decodeRequest,
  envelopedBodyLimit,
  singleEnvelopedMessage,
} from "./request-message.js";
import type { UnaryInvoker, UnaryOutcome } from "./unary-invoke.js";

export interface UnaryAdapterOptions {
  /** Runs the router's chain: every call is logged, authorised, drained and mapped alike. */
  invoke: UnaryInvoker;
  readMaxBytes: number;
  binaryOptions: Partial<BinaryReadOptions>;
  /** For Connect's JSON error bodies. */
  jsonOptions: Partial<JsonWriteOptions>;
  log: Logger;
}

/** Serves a unary call recognised by binary-call.ts, answering it whatever happens. */
export type UnaryAdapter = (call: BinaryCall, req: NodeRequest, res: NodeResponse) => void;

export function createUnaryAdapter(options: UnaryAdapterOptions): UnaryAdapter {
  const { readMaxBytes, binaryOptions, jsonOptions, invoke, log } = options;

  return (call, req, res) => {
    const spec = call.spec as Extract<MethodImplSpec, { kind: "unary" }>;
    const client = watchClient(req, res);
    const answer = (outcome: UnaryOutcome) => {
      // A client that reset the stream or dropped the connection gets nothing.
      if (client.gone) {
        log.debug({ procedure: procedureOf(spec), err: outcome.error }, "response not completed");
        return;
      }
      client.answered();
      try {
        writeUnaryAnswer(call.protocol, req, res, outcome, jsonOptions);
      } catch (error) {
        log.debug({ procedure: procedureOf(spec), err: error }, "response not completed");
      }
    };
    /** Decodes the request message from `read` (which throws ConnectErrors) and runs the call. */
    const serve = (read: () => Uint8Array) => {
      let input: ReturnType<typeof decodeRequest>;
      try {
        input = decodeRequest(spec.method.input, read(), binaryOptions);
      } catch (error) {
        answer({ header: undefined, trailer: undefined, error: error as ConnectError });
        return;
      }
      void invoke(spec, input, {
        protocolName: call.protocol,
        requestMethod: req.method ?? "POST",
        url: requestUrl(req),
        requestFields: () => requestFields(req.headers),
        traceparent: traceparentOf(req.headers),
        timeoutMs: call.timeoutMs,
        controller: client.controller,
      }).then(answer);
    };

    const query = call.query;
    if (query !== undefined) {
      serve(() => connectGetMessage(query, readMaxBytes));
      return;
    }
    const enveloped = call.protocol !== "connect";
    readBody(req, enveloped ? envelopedBodyLimit(readMaxBytes) : readMaxBytes, (body) =>
      serve(() => {
        if (body.kind === "too large") throw bodyTooLarge(readMaxBytes);
        return enveloped ? singleEnvelopedMessage(body.body, readMaxBytes) : body.body;
      }),
    );
  };
}

const procedureOf = (spec: MethodImplSpec) => `${spec.method.parent.typeName}/${spec.method.name}`;

/** The request's header fields, without HTTP/2's pseudo-headers (":path"…). */
export function requestFields(headers: IncomingHttpHeaders): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const key in headers) {
    const value = headers[key];
    if (value === undefined || key.startsWith(":")) continue;
    fields[key] = Array.isArray(value) ? value.join(", ") : value;
  }
  return fields;
}

function requestUrl(req: NodeRequest): string {
  if ("stream" in req) {
    const h2 = req as Http2ServerRequest;
    return `${h2.scheme}://${h2.authority}${h2.url}`;
  }
  const scheme = (req.socket as TLSSocket).encrypted ? "https" : "http";
  return `${scheme}://${req.headers.host ?? "localhost"}${req.url ?? "/"}`;
}
