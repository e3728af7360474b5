/**
 * The part of a lean unary call that does not depend on the protocol, shared by the lean gRPC
 * transport (HTTP/2) and the lean Connect transport (HTTP/1.1): the deadline, the caller's
 * signal (unary-call.ts), the request its interceptors see (unary-request.ts), and the
 * interceptor chain run as connect's runUnaryCall runs it. A protocol brings a `Wire`: what a
 * method needs on every call, worked out once, and one attempt on the wire.
 */
import { create, type DescMethodUnary } from "@bufbuild/protobuf";
import {
  type ContextValues,
  createContextValues,
  type Interceptor,
  type Transport,
  type UnaryRequest,
  type UnaryResponse,
} from "@connectrpc/connect";
import { UnaryCall } from "./unary-call.js";
import { createUnaryRequest, type RequestHeaderFn } from "./unary-request.js";

export type AnyFn = (req: UnaryRequest) => Promise<UnaryResponse>;

/** How one protocol puts a unary call on the wire. */
export interface Wire<Plan extends { url: string }> {
  /** The protocol's request headers (connect's requestHeader for it). */
  requestHeader: RequestHeaderFn;
  /** What `method` needs on every call; asked once per method. */
  plan(method: DescMethodUnary): Plan;
  /**
   * One attempt: send `req` (`request` as created, or what an interceptor made of it) and resolve
   * with the response or reject with the call's ConnectError. `call.onAbort` cancels it.
   */
  send(
    plan: Plan,
    req: UnaryRequest,
    request: UnaryRequest,
    call: UnaryCall,
    deadline: number | undefined,
  ): Promise<UnaryResponse>;
}

export interface LeanUnaryOptions {
  interceptors?: Interceptor[];
  defaultTimeoutMs?: number;
}

/** Transport["unary"] over `wire`. */
export function leanUnary<Plan extends { url: string }>(
  options: LeanUnaryOptions,
  wire: Wire<Plan>,
): Transport["unary"] {
  const interceptors = options.interceptors ?? [];
  const plans = new Map<DescMethodUnary, Plan>();

  function unary(
    method: DescMethodUnary,
    signal: AbortSignal | undefined,
    timeoutMs: number | undefined,
    header: ConstructorParameters<typeof Headers>[0],
    input: unknown,
    contextValues?: ContextValues,
  ): Promise<UnaryResponse> {
    const deadline = timeoutMs === undefined ? options.defaultTimeoutMs : timeoutMs <= 0 ? undefined : timeoutMs;
    let plan = plans.get(method);
    if (plan === undefined) {
      plan = wire.plan(method);
      plans.set(method, plan);
    }
    const planned = plan;
    const call = new UnaryCall(signal, deadline);
    const message = create(method.input, input as never);
    const request = createUnaryRequest(
      method,
      planned.url,
      message,
      contextValues ?? createContextValues(),
      call,
      deadline,
      header,
      wire.requestHeader,
    );
    const send: AnyFn = (req) => {
      if (call.reason !== undefined) return Promise.reject(call.reason);
      return wire.send(planned, req, request, call, deadline);
    };
    let next = send;
    for (let i = interceptors.length - 1; i >= 0; i--) next = (interceptors[i] as Interceptor)(next as never) as AnyFn;
    return next(request).then(
      (response) => {
        call.succeed();
        return response;
      },
      (reason: unknown) => Promise.reject(call.fail(reason)),
    );
  }

  return unary as Transport["unary"];
}
