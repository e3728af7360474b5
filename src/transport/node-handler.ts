/**
 * The one shape every layer of the transport speaks: a Node request handler that serves HTTP/1.1
 * and HTTP/2 (compatibility API) alike.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Http2ServerRequest, Http2ServerResponse } from "node:http2";
import type { StreamLane } from "./grpc-lane.js";

export type NodeRequest = IncomingMessage | Http2ServerRequest;
export type NodeResponse = ServerResponse | Http2ServerResponse;
export type NodeHandler = ((req: NodeRequest, res: NodeResponse) => void) & {
  /** Calls it serves on HTTP/2's core stream API, ahead of the compatibility layer (grpc-lane.ts). */
  lane?: StreamLane;
};
