/**
 * connect-es's router on Node's request and response — what connect-node's connectNodeAdapter does,
 * through the same public functions — for every call the transport does not answer itself
 * (streams, JSON, compression, unusual requests). Four additions:
 *
 * - A request whose body the transport has already read (a server-streaming call it checked, see
 *   stream-request-check.ts) is served from those bytes.
 * - A handler that ends because its client went away is logged at debug through pino, not printed
 *   on stderr.
 * - A response stream whose peer went away is failed, so its handler finishes (releaseOnClose).
 * - A request without an authority (HTTP/1.0 without Host) is a 400, not an uncaught exception.
 */
import type { ConnectRouter } from "@connectrpc/connect";
import { Code, ConnectError, createContextValues } from "@connectrpc/connect";
import { universalRequestFromNodeRequest, universalResponseToNodeResponse } from "@connectrpc/connect-node";
import type { Logger } from "pino";
import { callProtocolKey, protocolOfContentType, traceparentKey, traceparentOf } from "./call-origin.js";
import type { NodeHandler, NodeRequest, NodeResponse } from "./node-handler.js";
import { explainUnsupportedMediaType } from "./unsupported-media-type.js";

export interface ConnectAdapter {
  /** Serves a request connect-es reads itself. */
  serve: NodeHandler;
  /** Serves a request whose whole body has already been read: `body`. */
  replay(req: NodeRequest, res: NodeResponse, body: Uint8Array): void;
}

export interface ConnectAdapterOptions {
  /** For paths no service serves. */
  fallback: NodeHandler;
  log: Logger;
}

export function createConnectAdapter(router: ConnectRouter, options: ConnectAdapterOptions): ConnectAdapter {
  const handlers = new Map(router.handlers.map((handler) => [handler.requestPath, handler]));
  const run = (req: NodeRequest, res: NodeResponse, body: Uint8Array | undefined) => {
    const handler = handlers.get(req.url?.split("?", 2)[0] ?? "");
    if (!handler) {
      options.fallback(req, res);
      return;
    }
    // connect-node builds the request's URL from its authority and throws, outside any promise,
    // when there is none (HTTP/1.0 without Host): that would take the process down.
    if (("authority" in req ? req.authority : req.headers.host) === undefined) {
      res.writeHead(400);
      res.end();
      return;
    }
    releaseOnClose(res);
    const protocol = protocolOfContentType(req.headers["content-type"]);
    const values = createContextValues().set(callProtocolKey, protocol).set(traceparentKey, traceparentOf(req.headers));
    const request = universalRequestFromNodeRequest(req, res, undefined, values);
    handler(body === undefined ? request : { ...request, body: once(body) })
      .then((response) => explainUnsupportedMediaType(response, req.headers["content-type"]))
      .then((response) => universalResponseToNodeResponse(response, res))
      .catch((reason: unknown) => {
        if (ConnectError.from(reason).code === Code.Aborted) return;
        options.log.debug(
          { err: reason, procedure: `${handler.service.typeName}/${handler.method.name}` },
          "response not completed",
        );
      });
  };
  return {
    serve: (req, res) => run(req, res, undefined),
    replay: run,
  };
}

async function* once(body: Uint8Array): AsyncIterable<Uint8Array> {
  yield body;
}

/**
 * A response stream whose peer went away (connection reset, stream cancelled) closes without an
 * "error" event, and connect-node's writer waits for "drain" or "error" forever: the handler of an
 * abandoned server stream would stay suspended, holding its batch and the drain count. Turning
 * such a close into an error lets the writer fail and the handler finish.
 */
function releaseOnClose(res: NodeResponse): void {
  res.once("close", () => {
    if (!res.writableFinished && res.listenerCount("error") > 0) {
      res.emit("error", new Error("the client closed the stream before the response was complete"));
    }
  });
}
