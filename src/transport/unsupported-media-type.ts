/**
 * A JSON reason for HTTP 415. connect-es answers a request whose content type no protocol speaks
 * (none at all, `text/plain`, curl's default form encoding) with a bare 415 and an empty body, so a
 * newcomer's first curl learns nothing. This gives that answer a Connect error body naming the
 * content types the port speaks; every other response passes through untouched.
 */
import type { UniversalServerResponse } from "@connectrpc/connect/protocol";

const spoken =
  "Connect (application/json or application/proto; application/connect+json or +proto for streams), " +
  "gRPC (application/grpc, +proto or +json) and gRPC-Web (application/grpc-web, +proto or +json)";

/** `response` with a `{"code","message"}` body when it is connect-es's empty 415. */
export function explainUnsupportedMediaType(
  response: UniversalServerResponse,
  contentType: string | undefined,
): UniversalServerResponse {
  if (response.status !== 415 || response.body !== undefined) return response;
  const sent =
    contentType === undefined || contentType === "" ? "no content-type" : `content-type "${contentType.slice(0, 100)}"`;
  const body = new TextEncoder().encode(
    JSON.stringify({ code: "unimplemented", message: `${sent} is not supported: this port speaks ${spoken}` }),
  );
  const header = new Headers(response.header);
  header.set("content-type", "application/json");
  header.set("content-length", String(body.byteLength));
  return { ...response, header, body: oneChunk(body) };
}

async function* oneChunk(chunk: Uint8Array): AsyncIterable<Uint8Array> {
  yield chunk;
}
