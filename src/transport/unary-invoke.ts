/**
 * One unary call, protocol aside: a handler context (deadline, shutdown and client-gone signals,
 * headers) built with connect-es's public createHandlerContext, the router's interceptors around
 * the implementation, as connect-es's own handlers run them. Whatever fails becomes a ConnectError:
 * a non-ConnectError is INTERNAL "internal error", its original kept as `cause` (for the log, never
 * for the client) — connect-es's rule.
 */
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createHandlerContext,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;

export interface UnaryCallInit {
  protocolName: "grpc" | "grpc-web" | "connect";
  requestMethod: string;
  url: string;
  /** Copied into the context's Headers once. */
  requestHeader: Record<string, string>;
  timeoutMs: number | undefined;
  /** Aborted when the client goes away. */
  requestSignal: AbortSignal;
}

/** What goes back: the serialized response message or the error, with headers and trailers. */
export type UnaryOutcome =
  | { header: Headers; trailer: Headers; message: Uint8Array; error?: undefined }
  | { header: Headers; trailer: Headers; message?: undefined; error: ConnectError };

export type UnaryInvoker = (
  spec: UnarySpec,
  input: MessageShape<DescMessage>,
  init: UnaryCallInit,
) => Promise<UnaryOutcome>;

export function createUnaryInvoker(options: {
  interceptors: Interceptor[];
  shutdownSignal: AbortSignal;
}): UnaryInvoker {
  // One reason for every call that simply finished: aborting without one would build a
  // DOMException (with its stack) per call.
  const finished = new ConnectError("the call has finished", Code.Canceled);

  return async (spec, input, init) => {
    const context = createHandlerContext({
      ...init,
      service: spec.method.parent,
      method: spec.method,
      shutdownSignal: options.shutdownSignal,
    });
    const implementation = async (request: UnaryRequest): Promise<UnaryResponse> => {
      const output = await spec.impl(request.message, withRequest(context, request));
      return {
        stream: false,
        service: request.service,
        method: spec.method,
        header: context.responseHeader,
        trailer: context.responseTrailer,
        message: create(spec.method.output, output),
      };
    };
    const next = options.interceptors.reduceRight(
      (inner, interceptor) => interceptor(inner) as typeof inner,
      implementation as Parameters<Interceptor>[0],
    );
    try {
      const response = (await next({
        stream: false,
        service: spec.method.parent,
        method: spec.method,
        requestMethod: init.requestMethod,
        url: init.url,
        signal: context.signal,
        header: context.requestHeader,
        contextValues: context.values,
        message: input,
      })) as UnaryResponse;
      const message = toBinary(spec.method.output, response.message);
      context.abort(finished);
      return { header: response.header, trailer: response.trailer, message };
    } catch (reason) {
      const error =
        reason instanceof ConnectError
          ? reason
          : new ConnectError("internal error", Code.Internal, undefined, undefined, reason);
      context.abort(error);
      return { header: context.responseHeader, trailer: context.responseTrailer, error };
    }
  };
}

/** The context the implementation sees: an interceptor may have replaced headers, signal or values. */
function withRequest(context: HandlerContext, request: UnaryRequest): HandlerContext {
  if (
    request.header === context.requestHeader &&
    request.signal === context.signal &&
    request.contextValues === context.values
  ) {
    return context;
  }
  return { ...context, requestHeader: request.header, signal: request.signal, values: request.contextValues };
}
