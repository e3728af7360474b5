/**
 * Node.js and HTTP/2 failures as the ConnectErrors connect-node raises for them, so a call over
 * the lean transport fails with the same code as over connect-node (and the retry interceptor
 * retries the same failures). connect-node keeps these mappings private (its node-error.ts);
 * this is the same table, condensed.
 */
import { Code, ConnectError } from "@connectrpc/connect";

/** A connection refused, reset or unresolvable, a write after the end …: ConnectError.from() with Node's codes read. */
export function connectErrorFromNodeReason(reason: unknown): ConnectError {
  const codes = nodeErrorCodes(reason);
  let code = Code.Internal;
  if (codes.includes("ERR_STREAM_WRITE_AFTER_END")) code = Code.Aborted;
  else if (["ERR_STREAM_DESTROYED", "ERR_HTTP2_INVALID_STREAM", "ECONNRESET"].some((c) => codes.includes(c))) {
    code = Code.Aborted;
  } else if (["ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "ECONNREFUSED"].some((c) => codes.includes(c))) {
    code = Code.Unavailable;
  }
  const error = ConnectError.from(reason, code);
  if (error !== reason) error.cause = reason;
  return error;
}

/** The error for a stream reset with `rstCode`; undefined for codes gRPC leaves unmapped (NO_ERROR, STREAM_CLOSED). */
export function connectErrorFromResetCode(rstCode: number): ConnectError | undefined {
  const reset = resets.get(rstCode);
  if (reset === undefined) return undefined;
  const [name, code] = reset;
  return new ConnectError(`http/2 stream closed with error code ${name} (0x${rstCode.toString(16)})`, code);
}

/** True for the error Node raises on a write after the server ended the stream (its answer is what counts). */
export function isWriteAfterEnd(reason: unknown): boolean {
  return nodeErrorCodes(reason).includes("ERR_STREAM_WRITE_AFTER_END");
}

/** HTTP/2 error codes (RFC 9113 §7) gRPC maps to a status, by the names connect-node prints. */
const resets = new Map<number, [name: string, code: Code]>([
  [0x1, ["PROTOCOL_ERROR", Code.Internal]],
  [0x2, ["INTERNAL_ERROR", Code.Internal]],
  [0x3, ["FLOW_CONTROL_ERROR", Code.Internal]],
  [0x4, ["SETTINGS_TIMEOUT", Code.Internal]],
  [0x6, ["FRAME_SIZE_ERROR", Code.Internal]],
  [0x7, ["REFUSED_STREAM", Code.Unavailable]],
  [0x8, ["CANCEL", Code.Canceled]],
  [0x9, ["COMPRESSION_ERROR", Code.Internal]],
  [0xa, ["CONNECT_ERROR", Code.Internal]],
  [0xb, ["ENHANCE_YOUR_CALM", Code.ResourceExhausted]],
  [0xc, ["INADEQUATE_SECURITY", Code.PermissionDenied]],
  [0xd, ["HTTP_1_1_REQUIRED", Code.PermissionDenied]],
]);

/** The `code` of the error and of each error in its chain of causes. */
function nodeErrorCodes(reason: unknown): string[] {
  const codes: string[] = [];
  const seen = new Set<unknown>();
  while (reason instanceof Error && !seen.has(reason)) {
    seen.add(reason);
    const code = (reason as { code?: unknown }).code;
    if (typeof code === "string") codes.push(code);
    reason = reason.cause;
  }
  return codes;
}
