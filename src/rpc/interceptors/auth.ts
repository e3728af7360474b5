/**
 * Access control: bearer tokens, each with a role. A caller sends `authorization: Bearer <token>`;
 * the SHA-256 of the token is compared in constant time with every configured hash, and the
 * token's role decides which SessionService and AdminService methods it may call. No token
 * configured = no access control. The token is never logged, kept or echoed: only its configured `name` is (as the caller).
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import { ServerReflection as ReflectionV1 } from "../../../gen/grpc/reflection/v1/reflection_pb.js";
import { ServerReflection as ReflectionV1alpha } from "../../../gen/grpc/reflection/v1alpha/reflection_pb.js";
import { Health } from "../../../gen/health/v1/health_pb.js";
import { AdminService } from "../../../gen/isotope/admin/v1/admin_pb.js";
import { SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import type { AuthConfig, Role, TokenConfig } from "../../config/load-config.js";

const read = ["Load", "List", "Statistics", "Restore", "RestoreStream", "CheckConnection", "Watch"];
const write = [...read, "Save", "Append", "Touch", "Delete", "AcquireLease", "RenewLease", "ReleaseLease"];
const admin = [...write, "Cleanup"];

/**
 * SessionService methods each role may call. A method missing here is refused to every role, so a
 * new RPC stays closed until someone decides who may call it (test/e2e/security.test.ts checks that
 * every method of the service is listed).
 */
export const allowedMethods: Readonly<Record<Role, ReadonlySet<string>>> = {
  read: new Set(read),
  write: new Set(write),
  admin: new Set(admin),
};

/** AdminService: the console's reads, open to every role (what a role may change is SessionService's). */
const adminReads = ["WhoAmI", "MaintenanceStatus", "Trends"];
export const allowedAdminMethods: Readonly<Record<Role, ReadonlySet<string>>> = {
  read: new Set(adminReads),
  write: new Set(adminReads),
  admin: new Set(adminReads),
};

/** Each service a token's role governs, with its table; other services are health and reflection. */
export const accessTables: ReadonlyMap<string, Readonly<Record<Role, ReadonlySet<string>>>> = new Map([
  [SessionService.typeName, allowedMethods],
  [AdminService.typeName, allowedAdminMethods],
]);

/** Who made the call, for the log line (set by the auth interceptor once the token is accepted). */
export interface Caller {
  name: string;
  role: Role;
}
export const callerKey = createContextKey<Caller | undefined>(undefined, { description: "authenticated caller" });

const reflectionServices = new Set([ReflectionV1.typeName, ReflectionV1alpha.typeName]);

/**
 * The interceptor enforcing `config`: UNAUTHENTICATED without a valid token, PERMISSION_DENIED when
 * the token's role does not allow the method. Health and reflection are open unless
 * protectHealth / protectReflection, then any valid token will do. Undefined when no token is
 * configured (access control off).
 */
export function authInterceptor(config: AuthConfig): Interceptor | undefined {
  if (config.tokens.length === 0) return undefined;
  const identify = callerIdentifier(config.tokens);
  return (next) => async (req) => {
    const service = req.service.typeName;
    const open =
      (service === Health.typeName && !config.protectHealth) ||
      (reflectionServices.has(service) && !config.protectReflection);
    if (open) return next(req);

    const token = bearerToken(req.header.get("authorization"));
    if (token === undefined) {
      throw new ConnectError("this call needs an authorization header: Bearer <token>", Code.Unauthenticated);
    }
    const caller = identify(token);
    if (caller === undefined) throw new ConnectError("the bearer token is not valid", Code.Unauthenticated);
    req.contextValues.set(callerKey, caller);
    const table = accessTables.get(service);
    const allowed =
      table !== undefined
        ? table[caller.role].has(req.method.name)
        : service === Health.typeName || reflectionServices.has(service);
    if (!allowed) {
      throw new ConnectError(
        // Not "service/method": grpc-js shows a "/" in grpc-message percent-encoded.
        `token "${caller.name}" (role ${caller.role}) may not call ${service}.${req.method.name}`,
        Code.PermissionDenied,
      );
    }
    return next(req);
  };
}

/**
 * Who presents a token: the caller whose configured hash the token's SHA-256 matches, compared in
 * constant time with every hash (no early exit); undefined when none does.
 */
export function callerIdentifier(tokens: readonly TokenConfig[]): (token: string) => Caller | undefined {
  const known = tokens.map((token) => ({
    caller: { name: token.name, role: token.role } satisfies Caller,
    digest: Buffer.from(token.sha256, "hex"),
  }));
  return (token) => {
    const digest = createHash("sha256").update(token, "utf8").digest();
    let found: Caller | undefined;
    for (const entry of known) if (timingSafeEqual(entry.digest, digest) && !found) found = entry.caller;
    return found;
  };
}

/** The token of an `authorization: Bearer <token>` header (scheme case-insensitive), if any. */
export function bearerToken(header: string | null): string | undefined {
  const match = header === null ? null : /^Bearer +(\S+) *$/i.exec(header);
  return match?.[1];
}
