/**
 * The UnaryRequest a lean call hands its interceptors: the object connect's runUnaryCall builds,
 * except that `header` (connect's requestHeader) and `signal` (unary-call.ts) are made on first
 * read. Most calls read neither — the retry interceptor reads the signal only after a failure —
 * and each costs microseconds to make and to turn into what node:http2 sends. They are own,
 * enumerable properties, so an interceptor that spreads the request gets them; one that assigns
 * them gets a plain property, as on connect's object. The getters are shared, not closures per
 * call: an object literal with its own getters costs more than the Headers it would spare.
 *
 * The header is the protocol's: each lean transport passes its protocol's requestHeader (gRPC's
 * or Connect's), so one request object serves both.
 */
import type { DescMethodUnary } from "@bufbuild/protobuf";
import type { ContextValues, UnaryRequest } from "@connectrpc/connect";
import type { UnaryCall } from "./unary-call.js";

/** A protocol's request headers for a deadline and the caller's own headers (connect's requestHeader, bound). */
export type RequestHeaderFn = (
  timeoutMs: number | undefined,
  init: ConstructorParameters<typeof Headers>[0],
) => Headers;

const state = Symbol("lean unary request");

interface RequestState {
  call: UnaryCall;
  timeoutMs: number | undefined;
  /** The caller's own headers (CallOptions.headers), if any. */
  init: ConstructorParameters<typeof Headers>[0];
  header: Headers | undefined;
  requestHeader: RequestHeaderFn;
  /** An interceptor assigned `header` or `signal`. */
  assigned: boolean;
}

type WithState = { [state]: RequestState };

export function createUnaryRequest(
  method: DescMethodUnary,
  url: string,
  message: unknown,
  contextValues: ContextValues,
  call: UnaryCall,
  timeoutMs: number | undefined,
  init: ConstructorParameters<typeof Headers>[0],
  requestHeader: RequestHeaderFn,
): UnaryRequest {
  const request = { stream: false, service: method.parent, method, requestMethod: "POST", url, contextValues, message };
  const withState = request as typeof request & WithState;
  withState[state] = { call, timeoutMs, init, header: undefined, requestHeader, assigned: false };
  Object.defineProperty(request, "header", headerProperty);
  Object.defineProperty(request, "signal", signalProperty);
  return request as unknown as UnaryRequest;
}

/**
 * True when `req` is `request` as created, its header never read: what it would send is then
 * the protocol's requestHeader for its deadline alone, which the transport can keep ready.
 */
export function isUntouched(req: UnaryRequest, request: UnaryRequest): boolean {
  const own = (request as unknown as WithState)[state];
  return req === request && !own.assigned && own.header === undefined && own.init === undefined;
}

/** True when `req` carries the call's own signal (not one an interceptor put in its place). */
export function hasOwnSignal(req: UnaryRequest, request: UnaryRequest): boolean {
  const own = (request as unknown as WithState)[state];
  return (req === request && !own.assigned) || own.call.owns(req.signal);
}

const headerProperty = lazyProperty("header", (s) => {
  s.header ??= s.requestHeader(s.timeoutMs, s.init);
  return s.header;
});

const signalProperty = lazyProperty("signal", (s) => s.call.signal);

function lazyProperty(name: string, make: (s: RequestState) => unknown): PropertyDescriptor {
  return {
    enumerable: true,
    configurable: true,
    get(this: WithState) {
      return make(this[state]);
    },
    set(this: WithState, value: unknown) {
      this[state].assigned = true;
      Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
    },
  };
}
