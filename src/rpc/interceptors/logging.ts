/**
 * The logging interceptor: one line per RPC, written when the call ends — for a streaming RPC when
 * its stream ends, with the code it ended with.
 */
import { Code, type Interceptor, type StreamResponse } from "@connectrpc/connect";
import type { Logger } from "pino";
import { traceparentKey } from "../../transport/call-origin.js";
import { newTraceId, traceIdOf } from "../trace-context.js";
import { callerKey } from "./auth.js";
import { afterStream, endError } from "./stream-end.js";

/**
 * Logs one line per RPC: procedure, code, duration in ms, the trace id (of the call's W3C
 * `traceparent`, or a new one), session_id when the request has one and the caller's token name
 * when access control is on. Never the payload, never a header.
 * INTERNAL errors are logged with their cause, which the client never sees.
 */
export function loggingInterceptor(log: Logger): Interceptor {
  // A success line holds nothing that could be a secret (no payload, no header, no error): it
  // skips the root logger's redaction, which doubles a line's cost.
  const success = log.child({}, { redact: [] });
  return (next) => async (req) => {
    const started = performance.now();
    const sessionId = req.stream ? undefined : (req.message as { sessionId?: unknown }).sessionId;
    const given = req.contextValues.get(traceparentKey);
    const fields = {
      procedure: `${req.service.typeName}/${req.method.name}`,
      trace_id: traceIdOf(given === undefined ? req.header.get("traceparent") : given) ?? newTraceId(),
      ...(typeof sessionId === "string" && sessionId !== "" ? { session_id: sessionId.slice(0, 255) } : {}),
    };
    const finish = (error: unknown) => {
      const duration_ms = Math.round((performance.now() - started) * 100) / 100;
      const caller = req.contextValues.get(callerKey);
      const line = caller === undefined ? fields : { ...fields, caller: caller.name };
      const connectError = endError(req.signal, error);
      if (connectError === undefined) {
        success.info({ ...line, code: "ok", duration_ms }, "rpc");
        return;
      }
      const code = Code[connectError.code].replace(/[A-Z]/g, (c, i) => (i ? "_" : "") + c.toLowerCase());
      if (connectError.code === Code.Internal || connectError.code === Code.Unknown) {
        log.error({ ...line, code, duration_ms, err: connectError.cause ?? connectError }, "rpc failed");
      } else {
        log.info({ ...line, code, duration_ms, message: connectError.rawMessage }, "rpc");
      }
    };
    try {
      const response = await next(req);
      if (!response.stream) {
        finish(undefined);
        return response;
      }
      return { ...response, message: afterStream(response.message, finish) } as StreamResponse;
    } catch (error) {
      finish(error);
      throw error;
    }
  };
}
