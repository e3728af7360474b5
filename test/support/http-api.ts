// The HTTP API as a test calls it: one request over HTTP/1.1 (fetch) or HTTP/2, cleartext or TLS,
// and every JSON answer checked against the OpenAPI document's schema for its path, method and
// status — so each test that calls an endpoint also proves the document describes what it got.
import type { ErrorObject } from "ajv";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormats from "ajv-formats";
import { openApiDocument } from "../../src/http/openapi.js";
import { rawRequest } from "./transport.js";

export interface ApiAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  // biome-ignore lint/suspicious/noExplicitAny: a JSON answer, read field by field in assertions
  body: any;
}

export interface ApiRequest {
  /** A value is sent as JSON; a string or Buffer as it is. */
  body?: unknown;
  headers?: Record<string, string>;
}

export type ApiCall = (method: string, path: string, request?: ApiRequest) => Promise<ApiAnswer>;

/** How to reach the server: fetch over HTTP/1.1, or node:http2; over TLS with `ca`. */
export interface ApiRoute {
  port: number;
  version: "1.1" | "2";
  ca?: Buffer;
}

export function apiCaller({ port, version, ca }: ApiRoute): ApiCall {
  return async (method, path, request = {}) => {
    const body =
      request.body === undefined || typeof request.body === "string" || Buffer.isBuffer(request.body)
        ? request.body
        : JSON.stringify(request.body);
    let answer: Omit<ApiAnswer, "body"> & { text: string };
    if (version === "1.1" && ca === undefined) {
      const response = await fetch(`http://127.0.0.1:${port}${path}`, { method, headers: request.headers, body });
      answer = {
        status: response.status,
        headers: Object.fromEntries(response.headers),
        text: await response.text(),
      };
    } else {
      const raw = await rawRequest(
        port,
        version,
        { method, path, headers: request.headers, body: body === undefined ? undefined : Buffer.from(body) },
        ca,
      );
      answer = { status: raw.status, headers: raw.headers, text: raw.body.toString() };
    }
    const json = answer.text === "" ? undefined : JSON.parse(answer.text);
    const problems = schemaProblems(method, path, answer.status, json);
    if (problems.length > 0) {
      throw new Error(
        `${method} ${path} → ${answer.status} does not match the OpenAPI document: ${problems.join("; ")}\n${answer.text}`,
      );
    }
    return { status: answer.status, headers: answer.headers, body: json };
  };
}

const ajv = new Ajv2020({ strict: false, allErrors: true });
addFormats.default(ajv);
ajv.addSchema(openApiDocument, "openapi");

type Operation = { responses: Record<string, { content?: Record<string, { schema: object }> }> };

/**
 * Why `body` is not what the document says `method path` answers with `status` (none = it is).
 * A status the operation does not list must match its `default`.
 */
export function schemaProblems(method: string, path: string, status: number, body: unknown): string[] {
  const pathOnly = path.split("?", 1)[0] as string;
  const template = Object.keys(openApiDocument.paths).find((candidate) =>
    new RegExp(`^${candidate.replace(/\{[^}]+\}/g, "[^/]+")}$`).test(pathOnly),
  );
  if (template === undefined) return status === 404 ? errorProblems(body) : [`${pathOnly} is not in the document`];
  const item = openApiDocument.paths[template as keyof typeof openApiDocument.paths] as Record<string, Operation>;
  const operation = item[method.toLowerCase()];
  if (operation === undefined) return status === 405 || status === 204 ? errorProblems(body) : [`no ${method}`];
  const statusKey = String(status) in operation.responses ? String(status) : "default";
  const response = operation.responses[statusKey];
  if (response === undefined) return [`status ${status} is not documented`];
  if (response.content?.["application/json"]?.schema === undefined) {
    return body === undefined ? [] : ["a body where none is documented"];
  }
  // The schema where it stands in the document, so its $refs resolve.
  const at = ["paths", template, method.toLowerCase(), "responses", statusKey, "content", "application/json", "schema"];
  const pointer = at.map((segment) => encodeURIComponent(segment.replaceAll("~", "~0").replaceAll("/", "~1")));
  const validate = ajv.getSchema(`openapi#/${pointer.join("/")}`);
  if (validate === undefined) return [`cannot resolve the schema of ${method} ${template} ${statusKey}`];
  return validate(body) ? [] : describe(validate.errors);
}

function errorProblems(body: unknown): string[] {
  if (body === undefined) return [];
  const validate = ajv.getSchema("openapi#/components/schemas/Error");
  return validate?.(body) ? [] : describe(validate?.errors);
}

const describe = (errors: ErrorObject[] | null | undefined) =>
  (errors ?? []).map((error) => `${error.instancePath || "/"} ${error.message}`);
