/**
 * createHttpApi: the seed's HTTP API as a page of the port (`/api`, see transport/pages.ts), over
 * HTTP/1.1 and HTTP/2, TLS or not, as the port is. It finds the endpoint by path and method (404,
 * 405 with Allow), reads a JSON body within `max_receive_bytes` (413), refuses a state-changing
 * request from a browser origin CORS does not allow (403), and answers with JSON — errors as
 * `{code, message}` (errors.ts). Everything else is the endpoint's one RPC (endpoints.ts).
 */
import type { JsonObject } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import type { Logger } from "pino";
import type { Limits } from "../config/load-config.js";
import { messageRecursionLimit, type Rpc } from "../rpc/routes.js";
import type { NodeRequest, NodeResponse } from "../transport/node-handler.js";
import type { Page } from "../transport/pages.js";
import { readBody, watchClient } from "../transport/request-body.js";
import { type Answer, createEndpoints, type Endpoint } from "./endpoints.js";
import { errorAnswer } from "./errors.js";
import { callOptions, createInProcessClient } from "./in-process.js";
import { openApiDocument } from "./openapi.js";
import { invalid, parseJson, readParams } from "./params.js";

export interface HttpApiOptions {
  rpc: Pick<Rpc, "routes" | "interceptors">;
  /** The limits, and the browser origins CORS allows ("*" = any). */
  config: { limits: Limits; corsOrigins: readonly string[] };
  shutdownSignal: AbortSignal;
  log: Logger;
}

export function createHttpApi(options: HttpApiOptions): Page {
  const { config, log } = options;
  const { limits } = config;
  const client = createInProcessClient({
    rpc: options.rpc,
    readMaxBytes: limits.maxReceiveBytes,
    recursionLimit: messageRecursionLimit(limits),
    shutdownSignal: options.shutdownSignal,
  });
  const routes = routeTable(createEndpoints(client, openApiDocument));
  const anyOrigin = config.corsOrigins.includes("*");
  const allowedOrigins = new Set(config.corsOrigins);

  const serve = async (req: NodeRequest, res: NodeResponse): Promise<Answer> => {
    const [path = "", search = ""] = (req.url ?? "").split("?", 2);
    const route = routes.find(({ pattern }) => pattern.test(path));
    if (route === undefined) {
      throw new ConnectError(`no endpoint ${path} (the API is described at /api/openapi.json)`, Code.NotFound);
    }
    const allow = [...route.byMethod.keys()].join(", ");
    if (req.method === "OPTIONS") return { status: 204, body: undefined, headers: { allow } };
    const endpoint = route.byMethod.get(req.method ?? "");
    if (endpoint === undefined) {
      const answer = errorAnswer(new ConnectError(`${path} answers ${allow} only`, Code.Unimplemented), 405);
      return { ...answer, headers: { allow } };
    }
    // A browser sends a cross-origin POST without asking first: only CORS's origins may change data.
    const origin = req.headers.origin;
    if (endpoint.method !== "GET" && origin !== undefined && !anyOrigin && !allowedOrigins.has(origin)) {
      throw new ConnectError(`origin ${origin} is not allowed (see cors_origins)`, Code.PermissionDenied);
    }
    const body = endpoint.body ? await jsonBody(req, limits.maxReceiveBytes) : undefined;
    const params = readParams(new URLSearchParams(search), body, endpoint.params);
    const sessionId = sessionIdOf(route.pattern.exec(path)?.[1]);
    const client = watchClient(req, res);
    const options = callOptions(req, client.controller.signal);
    const answer = await endpoint.run({ params, sessionId, options, requestId: idempotencyKey(req) });
    client.answered();
    return answer;
  };

  return {
    prefix: "/api",
    handler(req, res) {
      serve(req, res)
        .catch((error: unknown) => {
          if (!(error instanceof ConnectError)) log.error({ err: error, path: req.url }, "HTTP API request failed");
          return errorAnswer(error);
        })
        .then((answer) => send(res, answer))
        .catch((error: unknown) => log.debug({ err: error, path: req.url }, "HTTP API answer not sent"));
    },
  };
}

interface Route {
  pattern: RegExp;
  byMethod: Map<string, Endpoint>;
}

/** Endpoints grouped by path; `{session_id}` is one path segment. */
function routeTable(endpoints: Endpoint[]): Route[] {
  const routes = new Map<string, Route>();
  for (const endpoint of endpoints) {
    const route = routes.get(endpoint.path) ?? {
      pattern: new RegExp(`^${endpoint.path.replace("{session_id}", "([^/]+)")}$`),
      byMethod: new Map(),
    };
    route.byMethod.set(endpoint.method, endpoint);
    routes.set(endpoint.path, route);
  }
  return [...routes.values()];
}

/**
 * The `Idempotency-Key` header: the write's request_id, checked as the RPC checks it (Node joins a
 * repeated header with ", ", which no key may hold).
 */
function idempotencyKey(req: NodeRequest): string {
  const value = req.headers["idempotency-key"];
  return typeof value === "string" ? value : "";
}

function sessionIdOf(segment: string | undefined): string {
  if (segment === undefined) return "";
  try {
    return decodeURIComponent(segment);
  } catch {
    throw invalid("session_id", "is not a well-formed percent-encoded path segment");
  }
}

/** The request's JSON object body; undefined when empty. INVALID_ARGUMENT when it is not one. */
function jsonBody(req: NodeRequest, limit: number): Promise<JsonObject | undefined> {
  return new Promise((resolve, reject) => {
    readBody(req, limit, (read) => {
      if (read.kind === "too large") {
        reject(new ConnectError(`the body is larger than max_receive_bytes (${limit})`, Code.ResourceExhausted));
        return;
      }
      let text: string;
      try {
        text = utf8.decode(read.body);
      } catch {
        reject(invalid("body", "is not UTF-8"));
        return;
      }
      if (text.trim() === "") {
        resolve(undefined);
        return;
      }
      const value = parseJson(text);
      if (value === null || typeof value !== "object" || Array.isArray(value)) {
        reject(invalid("body", "must be a JSON object (numbers within the range of a double)"));
        return;
      }
      resolve(value);
    });
  });
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

function send(res: NodeResponse, answer: Answer): void {
  if (res.headersSent || res.destroyed) return;
  if (answer.body === undefined) {
    res.writeHead(answer.status, answer.headers);
    res.end();
    return;
  }
  const text = JSON.stringify(answer.body);
  res.writeHead(answer.status, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(text),
    ...answer.headers,
    ...(answer.status === 401 ? { "www-authenticate": "Bearer" } : {}),
  });
  res.end(text);
}
