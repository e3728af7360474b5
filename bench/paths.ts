/**
 * The bench's paths — the ways a session gets saved and loaded that `npm run bench` compares —
 * and what a driver process is told to run. The drivers: driver.ts (every Node path, openers in
 * sql-paths.ts and rpc-paths.ts) and driver.py (the Python drop-in).
 */
import type { Operation, Workload } from "./workload.js";

interface PathInfo {
  /** The product server the path calls: "product" (defaults), "nocache" (--cache-bytes 0), or none. */
  server?: "product" | "nocache";
  /** The process that drives it. */
  driver: "node" | "python";
  about: string;
}

const pathInfo = {
  limit: {
    driver: "node",
    about:
      "the job's limit: the seed's table (its four indexes, nothing else) in a database of its own, " +
      "the simplest correct SQL on a pg Pool(10) in the driver's process",
  },
  "product-sql": {
    driver: "node",
    about: "the product's repository SQL on the product's migrated table, on a pg Pool(10) in the driver's process",
  },
  peer: { driver: "node", about: "connect-pg-simple's store get / set on its own table (a Node user's choice)" },
  client: {
    server: "product",
    driver: "node",
    about: "the product's own TypeScript client (createSessionClient, packages/client) with its defaults",
  },
  "connect-node": {
    server: "product",
    driver: "node",
    about: "a bare connect-node gRPC transport client (createClient + createGrpcTransport)",
  },
  "grpc-js": {
    server: "product",
    driver: "node",
    about: "@grpc/grpc-js, one channel, protobuf-es toBinary / fromBinary as serializers",
  },
  python: {
    server: "product",
    driver: "python",
    about: "the Python drop-in (clients/python) on Debian's python3-grpcio, 32 threads on one manager",
  },
  "product-lean": {
    server: "product",
    driver: "node",
    about: "a minimal gRPC client on node:http2 + protobuf-es: the floor of a Node client",
  },
  "connect-h1-lean": {
    server: "product",
    driver: "node",
    about: "the same minimal client in Connect's protocol: binary unary POSTs over HTTP/1.1 keep-alive",
  },
  "product-nocache": {
    server: "nocache",
    driver: "node",
    about: "connect-node against a second server with the hot cache off",
  },
} satisfies Record<string, PathInfo>;

export type PathName = keyof typeof pathInfo;
export const paths: Record<PathName, PathInfo> = pathInfo;

export const isPathName = (name: string): name is PathName => Object.hasOwn(paths, name);

/** What run.ts hands a driver process (as one JSON argument). */
export interface DriverArgs {
  path: PathName;
  workload: Workload;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  sessions: number;
  /** The product's database (DATABASE_URL); the limit's is derived from it (data-set.ts). */
  databaseUrl: string;
  /** The product server's address, for paths that call one. */
  url?: string;
  poolMax: number;
}

/** One path, opened in a driver: `call` does one operation on session `index`. */
export interface OpenPath {
  call(operation: Operation, index: number): Promise<unknown>;
  close(): Promise<void>;
}
