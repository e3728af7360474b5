/**
 * One unary exchange over HTTP/1.1: a POST with the whole body and a content-length, on a
 * keep-alive socket of the transport's agent, and the response collected whole (status, headers,
 * body) for connect-response.ts to read. A failure is the ConnectError connect-node raises for it;
 * a call cut short (deadline, the caller's signal, or a signal an interceptor put on the request)
 * destroys the request, and its socket with it, as connect-node does — HTTP/1.1 has no other way
 * to tell the server. A request that finds its kept-alive socket already closed by the server is
 * sent again on another (see isStaleSocket) when the call is safe to repeat (`resendable`: a Load,
 * a compare-and-set…), so a restart or the server's idle timeout does not fail it; any other call
 * fails UNAVAILABLE instead, since a reset can also mean the server took the request and died
 * before answering, and a blind Append must not be applied twice.
 */
import type * as http from "node:http";
import { Code, ConnectError } from "@connectrpc/connect";
import { exchangeEnd } from "./exchange-end.js";
import { connectErrorFromNodeReason } from "./node-errors.js";
import type { UnaryCall } from "./unary-call.js";

/** What came back, as Node gave it. */
export interface Received1 {
  status: number;
  headers: http.IncomingHttpHeaders;
  data: Buffer[];
  /** Bytes in `data`. */
  length: number;
}

/**
 * Sends `body` with `request(options)` (http.request or https.request, the agent in `options`)
 * and resolves with the response once it has ended. `interceptorSignal` is a signal an
 * interceptor substituted for the call's own; it cancels this exchange only.
 */
export function exchange1(
  request: (options: http.RequestOptions) => http.ClientRequest,
  options: http.RequestOptions,
  body: Uint8Array,
  call: UnaryCall,
  resendable: boolean,
  interceptorSignal?: AbortSignal,
): Promise<Received1> {
  return new Promise((resolve, reject) => {
    let sent: http.ClientRequest | undefined;
    const end = exchangeEnd(
      call,
      interceptorSignal,
      () => {
        if (sent !== undefined && !sent.destroyed) sent.destroy();
      },
      reject,
    );
    if (end.settled) return;
    const fail = end.fail;
    const attempt = () => {
      let responded = false;
      try {
        sent = request(options);
      } catch (error) {
        return fail(connectErrorFromNodeReason(error));
      }
      const current = sent;
      current.on("response", (response: http.IncomingMessage) => {
        responded = true;
        const received: Received1 = {
          status: response.statusCode ?? 0,
          headers: response.headers,
          data: [],
          length: 0,
        };
        response.on("data", (chunk: Buffer) => {
          received.data.push(chunk);
          received.length += chunk.length;
        });
        response.on("end", () => {
          if (end.succeed()) resolve(received);
        });
        response.on("error", (error: Error) => fail(connectErrorFromNodeReason(error)));
        response.on("close", () => {
          if (!end.settled) fail(new ConnectError("Premature close", Code.Internal));
        });
      });
      current.on("error", (error: Error) => {
        // A kept-alive socket the server had already closed (its idle timeout, a restart): the
        // request never reached it. Once more on another socket, as Node's documentation advises.
        if (!end.settled && !responded && current.reusedSocket && isStaleSocket(error)) {
          if (resendable) return attempt();
          return fail(
            new ConnectError(
              "the kept-alive connection was closed before an answer: the call may or may not have run",
              Code.Unavailable,
              undefined,
              undefined,
              error,
            ),
          );
        }
        fail(connectErrorFromNodeReason(error));
      });
      current.end(body);
    };
    attempt();
  });
}

/** The errors of a write to a socket the peer closed before this request. */
function isStaleSocket(error: Error): boolean {
  const code = (error as { code?: unknown }).code;
  return code === "ECONNRESET" || code === "EPIPE";
}
