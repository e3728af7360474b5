/**
 * What the port serves, as a Connect router: SessionService, AdminService (the console's, when
 * given), grpc.health.v1.Health and gRPC reflection (v1 and v1alpha), behind one interceptor chain — logging, then an observer (metrics),
 * then access control, then the drain, then error mapping — shared by the Connect router and the
 * transport's unary adapter, so every protocol is logged, counted, authorised and drained alike. Servable without a socket:
 * `createRouterTransport(rpc.routes, { router: { interceptors: rpc.interceptors } })`.
 */
import { readFileSync } from "node:fs";
import { createFileRegistry, type DescFile, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorSetSchema } from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, Interceptor, ServiceImpl } from "@connectrpc/connect";
import type { Logger } from "pino";
import { file_health_v1_health } from "../../gen/health/v1/health_pb.js";
import { AdminService, file_isotope_admin_v1_admin } from "../../gen/isotope/admin/v1/admin_pb.js";
import { file_isotope_session_v1_session, SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { AuthConfig, Limits } from "../config/load-config.js";
import type { Db } from "../db/database.js";
import type { ChangeFeed } from "../feed/contract.js";
import type { SessionRepository } from "../sessions/repository/contract.js";
import { createSessionService } from "../sessions/service.js";
import { createHealth, type HealthService } from "./health.js";
import { authInterceptor } from "./interceptors/auth.js";
import { createDrain, type Drain } from "./interceptors/drain.js";
import { errorInterceptor } from "./interceptors/errors.js";
import { loggingInterceptor } from "./interceptors/logging.js";
import { registerReflection } from "./reflection.js";

export interface RpcDeps {
  db: Db;
  repository: SessionRepository;
  /** The change feed behind Watch. */
  feed: ChangeFeed;
  limits: Limits;
  log: Logger;
  /** Bearer tokens and their roles; none = every call allowed. */
  auth?: AuthConfig;
  /**
   * Watches every call (metrics): runs just inside logging, before access control, so it sees the
   * calls auth refuses and the drain turns away as well, each with its code.
   */
  observer?: Interceptor;
  /** AdminService's implementation (src/admin), served behind the same chain; none = not served. */
  admin?: ServiceImpl<typeof AdminService>;
}

export interface Rpc {
  /** Registers every service on a Connect router. */
  routes(router: ConnectRouter): void;
  /** The chain every call goes through, outermost first. */
  interceptors: Interceptor[];
  health: HealthService;
  drain: Drain;
}

export function createRpc({ db, repository, feed, limits, log, auth, observer, admin }: RpcDeps): Rpc {
  const health = createHealth();
  const drain = createDrain();
  const sessionService = createSessionService({ db, repository, feed, limits });
  // Auth runs inside logging (a refused call is logged with its code, never its token) and before
  // the drain: a refused call never counts as in flight, and an unauthenticated caller gets
  // UNAUTHENTICATED even while we shut down — retrying on another replica would not help it.
  const access = auth === undefined ? undefined : authInterceptor(auth);
  const interceptors = [
    loggingInterceptor(log),
    ...(observer === undefined ? [] : [observer]),
    ...(access === undefined ? [] : [access]),
    drain.interceptor,
    errorInterceptor(),
  ];
  const described = [describedFile(file_isotope_session_v1_session, "session/v1/session")];
  if (admin !== undefined) described.push(describedFile(file_isotope_admin_v1_admin, "admin/v1/admin"));
  return {
    routes(router) {
      router.service(SessionService, sessionService);
      if (admin !== undefined) router.service(AdminService, admin);
      health.registerOn(router);
      registerReflection(router, [...described, file_health_v1_health]);
    },
    interceptors,
    health,
    drain,
  };
}

/**
 * How deep a request message may nest, in protobuf message levels. Each JSON level of a Struct is
 * two or three of them (Struct → Value → …): the decoder reaches past max_depth, so the validator
 * can refuse a too-deep document with the field named.
 */
export function messageRecursionLimit(limits: Limits): number {
  return limits.maxDepth * 4 + 32;
}

/**
 * A contract file as reflection serves it: from the descriptor set `npm run generate` builds beside
 * its generated code, which keeps the .proto comments (the descriptor embedded in gen/*_pb.ts drops them).
 */
function describedFile(file: DescFile, path: string): DescFile {
  const bytes = readFileSync(new URL(`../../gen/isotope/${path}.binpb`, import.meta.url));
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, bytes));
  return registry.getFile(file.proto.name) ?? file;
}
