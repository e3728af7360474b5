/**
 * A short path for the calls engines make on every turn: unary SessionService RPCs over gRPC
 * (HTTP/2, uncompressed protobuf). It reads the one length-prefixed message straight off the
 * HTTP/2 stream, runs the same interceptors (auth, logging, drain, error mapping) and the same
 * handler as the Connect router, and answers with headers, one DATA frame and trailers in the same
 * tick. Everything else — streams, gRPC-Web, Connect, compression, odd headers — returns false and
 * goes to connect-node unchanged.
 *
 * Why: connect-node spent most of its per-call CPU in protocol machinery (async-iterable pipes,
 * universal request/response adapters, an AbortController aborted with a fresh DOMException on
 * every call); see bench/RESULTS.md for the profiles before and after.
 */
import type { Http2ServerRequest, Http2ServerResponse, OutgoingHttpHeaders } from "node:http2";
import {
  type BinaryReadOptions,
  create,
  type DescMessage,
  type DescMethodUnary,
  type DescService,
  fromBinary,
  toBinary,
} from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  createHandlerContext,
  type Interceptor,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { parseTimeout, setTrailerStatus } from "@connectrpc/connect/protocol-grpc";

// biome-ignore lint/suspicious/noExplicitAny: a handler of any unary method of the service
type UnaryHandler = (request: any, context: ReturnType<typeof createHandlerContext>) => unknown;

export interface FastPathOptions {
  service: DescService;
  /** The service implementation the router serves (only its unary methods are used here). */
  implementation: Record<string, unknown>;
  interceptors: Interceptor[];
  readMaxBytes: number;
  binaryOptions: Partial<BinaryReadOptions>;
  shutdownSignal: AbortSignal;
}

/** Returns a function that answers the call and returns true, or returns false, touching nothing. */
export function createGrpcFastPath(
  options: FastPathOptions,
): (req: Http2ServerRequest, res: Http2ServerResponse) => boolean {
  const methods = new Map<string, { method: DescMethodUnary; handler: UnaryHandler }>();
  for (const method of options.service.methods) {
    const handler = options.implementation[method.localName];
    if (method.methodKind === "unary" && typeof handler === "function") {
      methods.set(`/${options.service.typeName}/${method.name}`, {
        method: method as DescMethodUnary,
        handler: handler.bind(options.implementation) as UnaryHandler,
      });
    }
  }
  // One reason for every call that simply finished: aborting without one would build a
  // DOMException (with its stack) per call.
  const finished = new ConnectError("the call has finished", Code.Canceled);

  return (req, res) => {
    if (req.method !== "POST") return false;
    const target = methods.get(req.url);
    if (!target) return false;
    const headers = req.headers;
    const contentType = headers["content-type"];
    if (contentType !== "application/grpc" && contentType !== "application/grpc+proto") return false;
    const encoding = headers["grpc-encoding"];
    if (encoding !== undefined && encoding !== "identity") return false;
    const timeout = parseTimeout((headers["grpc-timeout"] as string | undefined) ?? null, Number.MAX_SAFE_INTEGER);
    if (timeout.error) return false;

    const stream = req.stream;
    const gone = new AbortController();
    const onClose = () => {
      if (!stream.writableFinished) gone.abort(new ConnectError("the client went away", Code.Canceled));
    };
    stream.once("close", onClose);

    // A reply goes through the compatibility response, which owns the stream's trailers.
    const respond = (status: OutgoingHttpHeaders, frame?: Uint8Array) => {
      // A client that reset the stream or dropped the connection gets nothing; respond() on a
      // closed stream would throw where nothing catches it (test/e2e/hostile.test.ts).
      if (stream.destroyed || stream.closed || res.headersSent) return;
      if (frame === undefined) {
        // Trailers-only: the status rides on the one HEADERS frame, which must end the stream.
        stream.respond({ ":status": 200, "content-type": contentType, ...status }, { endStream: true });
        return;
      }
      res.writeHead(200, { "content-type": contentType });
      res.addTrailers(status);
      res.end(frame);
    };
    const fail = (error: unknown) => respond(trailerFields(ConnectError.from(error)));

    const chunks: Buffer[] = [];
    let received = 0;
    let tooLarge = false;
    stream.on("data", (chunk: Buffer) => {
      received += chunk.byteLength;
      if (received > options.readMaxBytes + 5) {
        if (!tooLarge) {
          tooLarge = true;
          fail(
            new ConnectError(
              `message size is larger than configured readMaxBytes ${options.readMaxBytes}`,
              Code.ResourceExhausted,
            ),
          );
        }
        return;
      }
      chunks.push(chunk);
    });
    stream.once("end", () => {
      // The readable side also ends when the peer resets the stream: that body is not a request.
      if (tooLarge || stream.aborted || stream.closed) return;
      const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
      let input: unknown;
      try {
        input = fromBinary(target.method.input, unenvelope(body, options.readMaxBytes), options.binaryOptions);
      } catch (error) {
        fail(
          error instanceof ConnectError
            ? error
            : new ConnectError(`parse binary: ${(error as Error).message}`, Code.InvalidArgument),
        );
        return;
      }
      void invoke(target, input, req, timeout.timeoutMs, gone.signal).then(
        (output) => {
          const bytes = toBinary(target.method.output, create(target.method.output, output as never));
          const frame = Buffer.allocUnsafe(5 + bytes.byteLength);
          frame[0] = 0;
          frame.writeUInt32BE(bytes.byteLength, 1);
          frame.set(bytes, 5);
          respond({ "grpc-status": "0" }, frame);
        },
        (error: unknown) => fail(error),
      );
    });
    return true;
  };

  async function invoke(
    target: { method: DescMethodUnary; handler: UnaryHandler },
    message: unknown,
    req: Http2ServerRequest,
    timeoutMs: number | undefined,
    requestSignal: AbortSignal,
  ): Promise<unknown> {
    const requestHeader = new Headers();
    for (const [key, value] of Object.entries(req.headers)) {
      if (!key.startsWith(":") && value !== undefined) requestHeader.set(key, String(value));
    }
    const url = `${req.scheme ?? "http"}://${req.headers[":authority"] ?? "localhost"}${req.url}`;
    const context = createHandlerContext({
      service: options.service,
      method: target.method,
      protocolName: "grpc",
      requestMethod: "POST",
      url,
      timeoutMs,
      shutdownSignal: options.shutdownSignal,
      requestSignal,
      requestHeader,
      contextValues: createContextValues(),
    });
    const call = async (request: UnaryRequest): Promise<UnaryResponse> => ({
      stream: false,
      service: options.service,
      method: target.method,
      header: context.responseHeader,
      trailer: context.responseTrailer,
      message: create(target.method.output as DescMessage, (await target.handler(request.message, context)) as never),
    });
    const next = options.interceptors.reduceRight<(request: UnaryRequest) => Promise<UnaryResponse>>(
      (inner, interceptor) => interceptor(inner as never) as never,
      call,
    );
    try {
      const response = await next({
        stream: false,
        service: options.service,
        method: target.method,
        requestMethod: "POST",
        url,
        signal: context.signal,
        header: requestHeader,
        contextValues: context.values,
        message: message as never,
      });
      return response.message;
    } finally {
      context.abort(finished);
    }
  }
}

/** The single message of a unary gRPC request body, or the error connect-node would answer. */
function unenvelope(body: Buffer, readMaxBytes: number): Uint8Array {
  if (body.byteLength === 0)
    throw new ConnectError("protocol error: missing input message for unary method", Code.Unimplemented);
  if (body.byteLength < 5) throw new ConnectError("protocol error: incomplete envelope", Code.InvalidArgument);
  if ((body[0] as number) & 0b1) {
    throw new ConnectError("protocol error: received compressed message without grpc-encoding", Code.Internal);
  }
  const length = body.readUInt32BE(1);
  if (length > readMaxBytes) {
    throw new ConnectError(
      `message size ${length} is larger than configured readMaxBytes ${readMaxBytes}`,
      Code.ResourceExhausted,
    );
  }
  if (body.byteLength < 5 + length) {
    throw new ConnectError(
      `protocol error: promised ${length} bytes, received ${body.byteLength - 5}`,
      Code.InvalidArgument,
    );
  }
  if (body.byteLength > 5 + length) {
    throw new ConnectError("protocol error: received extra input message for unary method", Code.Unimplemented);
  }
  return body.subarray(5);
}

function trailerFields(error: ConnectError): OutgoingHttpHeaders {
  const fields: OutgoingHttpHeaders = {};
  setTrailerStatus(new Headers(), error).forEach((value, key) => {
    fields[key] = value;
  });
  return fields;
}
