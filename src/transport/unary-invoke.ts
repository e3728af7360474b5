/**
 * One unary call, protocol aside: the handler context (deadline, shutdown and client-gone signals,
 * headers) and the router's interceptors around the implementation, as connect-es's own handlers
 * run them. Whatever fails becomes a ConnectError: a non-ConnectError is INTERNAL "internal error",
 * its original kept as `cause` (for the log, never for the client) — connect-es's rule.
 *
 * Every unary call with a protobuf body passes here, so it does per call only what the call needs
 * (connect-es's createHandlerContext builds three linked AbortControllers, three Headers and a
 * deadline timer each time; see bench/RESULTS.md):
 * - the interceptor chain is built once per method, not per call;
 * - one AbortController per call — the caller's own (it aborts it when the client goes away) —
 *   which the deadline timer and the shutdown abort too; shutdown reaches the calls in flight
 *   through one set, not a listener per call; it is not aborted when the call simply ends;
 * - request headers become a `Headers` only when something reads them, response headers and
 *   trailers only when something writes them.
 */
import { create, type DescMessage, type MessageShape, toBinary } from "@bufbuild/protobuf";
import {
  Code,
  ConnectError,
  createContextValues,
  type HandlerContext,
  type Interceptor,
  type MethodImplSpec,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";

type UnarySpec = Extract<MethodImplSpec, { kind: "unary" }>;
type Next = (request: UnaryRequest) => Promise<UnaryResponse>;

export interface UnaryCallInit {
  protocolName: "grpc" | "grpc-web" | "connect";
  requestMethod: string;
  url: string;
  /** The request's header fields, read only if something asks for them. */
  requestFields: () => Record<string, string>;
  timeoutMs: number | undefined;
  /**
   * The call's one controller: the caller aborts it when the client goes away; the invoker when
   * the deadline passes or the server shuts down.
   */
  controller: AbortController;
}

/** What goes back: the serialized response message or the error, with headers and trailers if any. */
export type UnaryOutcome =
  | { header: Headers | undefined; trailer: Headers | undefined; message: Uint8Array; error?: undefined }
  | { header: Headers | undefined; trailer: Headers | undefined; message?: undefined; error: ConnectError };

export type UnaryInvoker = (
  spec: UnarySpec,
  input: MessageShape<DescMessage>,
  init: UnaryCallInit,
) => Promise<UnaryOutcome>;

// One reason each for the ways a call's signal aborts without a fault of its own: a ConnectError
// (or DOMException) per call would capture a stack each time.
const deadlineExceeded = new ConnectError("the operation timed out", Code.DeadlineExceeded);

export function createUnaryInvoker(options: {
  interceptors: Interceptor[];
  shutdownSignal: AbortSignal;
}): UnaryInvoker {
  const chains = new WeakMap<UnarySpec, Next>();
  const inFlight = new Set<AbortController>();
  options.shutdownSignal.addEventListener(
    "abort",
    () => {
      for (const controller of inFlight) controller.abort(options.shutdownSignal.reason);
    },
    { once: true },
  );

  /** The method wrapped in every interceptor; the context travels on the request (contextOf). */
  const chainOf = (spec: UnarySpec): Next => {
    let chain = chains.get(spec);
    if (chain === undefined) {
      const implementation: Next = async (request) => {
        const context = (request as Carrying)[contextOf];
        const output = await spec.impl(request.message, context.seenThrough(request));
        return {
          stream: false,
          service: request.service,
          method: spec.method,
          header: context.responseHeader,
          trailer: context.responseTrailer,
          message: create(spec.method.output, output),
        };
      };
      chain = options.interceptors.reduceRight<Next>(
        (inner, interceptor) => interceptor(inner as Parameters<Interceptor>[0]) as Next,
        implementation,
      );
      chains.set(spec, chain);
    }
    return chain;
  };

  return async (spec, input, init) => {
    const { controller } = init;
    if (options.shutdownSignal.aborted) controller.abort(options.shutdownSignal.reason);
    inFlight.add(controller);
    const timer =
      init.timeoutMs === undefined ? undefined : setTimeout(() => controller.abort(deadlineExceeded), init.timeoutMs);
    const context = new LazyContext(spec, init);
    try {
      const response = (await chainOf(spec)(context.request(input))) as UnaryResponse;
      const message = toBinary(spec.method.output, response.message);
      return { header: context.header, trailer: context.trailer, message };
    } catch (reason) {
      const error =
        reason instanceof ConnectError
          ? reason
          : new ConnectError("internal error", Code.Internal, undefined, undefined, reason);
      return { header: context.header, trailer: context.trailer, error };
    } finally {
      // Not aborted when it simply finished: an abort builds and dispatches an Event, and nothing
      // of a finished unary call is still listening.
      clearTimeout(timer);
      inFlight.delete(controller);
    }
  };
}

/**
 * Where the implementation finds its call's context: a symbol-keyed property of the request, which
 * an interceptor that passes on `{ ...request, … }` carries along (spread copies symbol keys).
 */
const contextOf = Symbol("isotope.handler-context");
type Carrying = UnaryRequest & { [contextOf]: LazyContext; protocolName: string };

/**
 * A HandlerContext whose Headers are made on first use. connect-es's interceptors and handlers see
 * it as the real thing; `header` / `trailer` tell the writer whether any were set.
 */
class LazyContext implements HandlerContext {
  readonly method: UnarySpec["method"];
  readonly service: UnarySpec["method"]["parent"];
  readonly requestMethod: string;
  readonly protocolName: string;
  readonly url: string;
  readonly signal: AbortSignal;
  readonly values = createContextValues();
  private readonly deadline: number | undefined;
  private readonly fields: () => Record<string, string>;
  private readonly controller: AbortController;
  private requestHeaders: Headers | undefined;
  header: Headers | undefined;
  trailer: Headers | undefined;

  constructor(spec: UnarySpec, init: UnaryCallInit) {
    this.method = spec.method;
    this.service = spec.method.parent;
    this.requestMethod = init.requestMethod;
    this.protocolName = init.protocolName;
    this.url = init.url;
    this.signal = init.controller.signal;
    this.controller = init.controller;
    this.fields = init.requestFields;
    this.deadline = init.timeoutMs === undefined ? undefined : Date.now() + init.timeoutMs;
  }

  get requestHeader(): Headers {
    this.requestHeaders ??= new Headers(this.fields());
    return this.requestHeaders;
  }
  get responseHeader(): Headers {
    this.header ??= new Headers();
    return this.header;
  }
  get responseTrailer(): Headers {
    this.trailer ??= new Headers();
    return this.trailer;
  }
  timeoutMs(): number | undefined {
    return this.deadline === undefined ? undefined : this.deadline - Date.now();
  }
  abort(reason?: unknown): void {
    this.controller.abort(reason);
  }

  /** The request the chain starts with; its header is read lazily too. */
  request(message: MessageShape<DescMessage>): UnaryRequest {
    const context = this;
    const request: Carrying = {
      stream: false,
      service: this.service,
      method: this.method,
      requestMethod: this.requestMethod,
      url: this.url,
      signal: this.signal,
      get header() {
        return context.requestHeader;
      },
      contextValues: this.values,
      message,
      [contextOf]: this,
      // Not in connect-es's request type: named here so an interceptor that wants the protocol
      // (call-protocol.ts) need not build the header to read the content type.
      protocolName: this.protocolName,
    };
    this.original = request;
    return request;
  }

  private original: UnaryRequest | undefined;

  /** The context as the implementation sees it: an interceptor may have passed on another request. */
  seenThrough(request: UnaryRequest): HandlerContext {
    if (request === this.original) return this;
    return {
      method: this.method,
      service: this.service,
      requestMethod: this.requestMethod,
      protocolName: this.protocolName,
      url: this.url,
      requestHeader: request.header,
      responseHeader: this.responseHeader,
      responseTrailer: this.responseTrailer,
      signal: request.signal,
      values: request.contextValues,
      timeoutMs: () => this.timeoutMs(),
      abort: (reason?: unknown) => this.abort(reason),
    } as HandlerContext;
  }
}
