/**
 * Keys every write: a Save, Append, Touch or Delete sent without a request_id gets a fresh one
 * (a UUID), so the server applies it at most once however often it is sent. It runs outside the
 * retry interceptor: every attempt of a call carries the same key, and a retry after a lost reply
 * gets the first attempt's answer instead of applying the write again.
 */
import { randomUUID } from "node:crypto";
import type { Interceptor, UnaryRequest } from "@connectrpc/connect";

const keyedWrites = new Set(["Save", "Append", "Touch", "Delete"]);

/** Whether `req` is a write the server applies once per request_id, and carries one. */
export function isKeyedWrite(req: UnaryRequest): boolean {
  return keyedWrites.has(req.method.name) && (req.message as { requestId?: string }).requestId !== "";
}

export function requestIdInterceptor(): Interceptor {
  return (next) => (req) => {
    if (req.stream || !keyedWrites.has(req.method.name)) return next(req);
    const message = req.message as { requestId?: string };
    if (message.requestId !== undefined && message.requestId !== "") return next(req);
    return next({ ...req, message: { ...req.message, requestId: randomUUID() } } as typeof req);
  };
}
