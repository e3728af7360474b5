/**
 * What the lean transports' responses have in common: a UnaryResponse whose header and trailer
 * are made from Node's header objects only when read, and that conversion itself.
 */
import type { IncomingHttpHeaders } from "node:http";
import type { DescMethodUnary } from "@bufbuild/protobuf";
import type { UnaryResponse } from "@connectrpc/connect";

/** A response's headers and trailers as Node gave them (HTTP/1.1 has no trailers here: Connect sends none). */
export interface Received {
  headers: IncomingHttpHeaders;
  trailers?: IncomingHttpHeaders | undefined;
}

const received = Symbol("received");

/**
 * A response whose `header` and `trailer` become fetch Headers on first read: few callers read
 * them (onHeader, onTrailer, an interceptor), and building them costs more than the rest of this
 * file. Own enumerable getters, as in unary-request.ts, shared rather than made per call.
 */
export function lazyResponse(from: Received, method: DescMethodUnary, message: unknown): UnaryResponse {
  const response = { stream: false, service: method.parent, method, message, [received]: from };
  Object.defineProperty(response, "header", headerProperty);
  Object.defineProperty(response, "trailer", trailerProperty);
  return response as unknown as UnaryResponse;
}

type WithReceived = { [received]: Received };

const headerProperty = lazyHeaders("header", (from) => from.headers);
const trailerProperty = lazyHeaders("trailer", (from) => from.trailers ?? {});

function lazyHeaders(name: string, source: (from: Received) => IncomingHttpHeaders): PropertyDescriptor {
  return {
    enumerable: true,
    configurable: true,
    get(this: WithReceived) {
      const headers = toHeaders(source(this[received]));
      Object.defineProperty(this, name, { value: headers, writable: true, enumerable: true, configurable: true });
      return headers;
    },
    set(this: object, value: unknown) {
      Object.defineProperty(this, name, { value, writable: true, enumerable: true, configurable: true });
    },
  };
}

/** Node's header object as fetch Headers, without HTTP/2 pseudo-headers (connect-node's nodeHeaderToWebHeader). */
export function toHeaders(node: IncomingHttpHeaders): Headers {
  const header = new Headers();
  for (const key in node) {
    if (key.startsWith(":")) continue;
    const value = node[key];
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) header.append(key, item);
    else header.append(key, String(value));
  }
  return header;
}
