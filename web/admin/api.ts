/**
 * The console's way to the service: SessionService and AdminService over Connect (connect-web,
 * fetch) at this page's own origin, with the operator's bearer token from sessionStorage — kept for
 * this tab only, gone when it closes. Errors are shown as the service gave them: code and message.
 */
import { Code, ConnectError, createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-web";
import { AdminService, type WhoAmIResponse } from "../../gen/isotope/admin/v1/admin_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";

const tokenKey = "isotope-admin-token";

export const token = {
  get: (): string | null => sessionStorage.getItem(tokenKey),
  set: (value: string) => sessionStorage.setItem(tokenKey, value),
  clear: () => sessionStorage.removeItem(tokenKey),
};

const bearer: Interceptor = (next) => (req) => {
  const value = token.get();
  if (value !== null) req.header.set("authorization", `Bearer ${value}`);
  return next(req);
};

// The Connect protocol with binary messages: the service's fastest path from a browser.
const transport = createConnectTransport({
  baseUrl: window.location.origin,
  useBinaryFormat: true,
  interceptors: [bearer],
});

export const sessions = createClient(SessionService, transport);
export const admin = createClient(AdminService, transport);

/** What the caller's token may do, learnt from WhoAmI when the console opens. */
export interface Access {
  who: WhoAmIResponse;
  /** May the token call this SessionService method? */
  can(method: "Touch" | "Delete" | "Cleanup" | "Restore"): boolean;
}

export function accessOf(who: WhoAmIResponse): Access {
  const methods = new Set(who.methods);
  return { who, can: (method) => methods.has(`${SessionService.typeName}/${method}`) };
}

/** An error as the operator reads it: the Connect code's gRPC name and the service's message. */
export function describeError(error: unknown): { code: string; message: string; unauthenticated: boolean } {
  const connectError = ConnectError.from(error);
  const name = (Code[connectError.code] ?? "Unknown").replace(/([a-z])([A-Z])/g, "$1_$2").toUpperCase();
  return {
    code: name,
    message: connectError.rawMessage,
    unauthenticated: connectError.code === Code.Unauthenticated,
  };
}
