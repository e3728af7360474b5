/**
 * W3C Trace Context, as far as a log line needs it: the trace id of a call's `traceparent` header
 * (version-format-trace id-parent id-flags), or a new one when none — or an invalid one — is given,
 * so one request can be followed through an engine's logs and this service's.
 */

const traceparent = /^([\da-f]{2})-([\da-f]{32})-([\da-f]{16})-[\da-f]{2}(-.*)?$/;
const zeros32 = "0".repeat(32);
const zeros16 = "0".repeat(16);

/**
 * The trace id of a valid `traceparent`, else undefined. Version ff is invalid; version 00 has no
 * suffix; a later version may carry more fields after the four it shares (the spec's rule for
 * parsing versions it does not know).
 */
export function traceIdOf(header: string | null): string | undefined {
  if (header === null) return undefined;
  const match = traceparent.exec(header.trim());
  if (match === null) return undefined;
  const [, version, traceId, parentId, rest] = match;
  if (version === "ff" || (version === "00" && rest !== undefined)) return undefined;
  if (traceId === zeros32 || parentId === zeros16) return undefined;
  return traceId;
}

// Random bytes drawn 4 KiB at a time: one getRandomValues per 256 new trace ids, not one each.
const pool = new Uint8Array(4096);
let used = pool.length;

/** A new random trace id: 32 lowercase hex digits, not all zero. */
export function newTraceId(): string {
  if (used + 16 > pool.length) {
    crypto.getRandomValues(pool);
    used = 0;
  }
  const id = Buffer.from(pool.buffer, used, 16).toString("hex");
  used += 16;
  return id === zeros32 ? newTraceId() : id;
}
