// Several server processes on one PostgreSQL table, reached directly or through a private
// PgBouncer in transaction mode, and clients that spread their calls over them round-robin — as
// engines behind a load balancer do.
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pg from "pg";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { dropServiceTable } from "./databases.js";
import { type Pooler, startPgBouncer } from "./pgbouncer.js";
import { type Service, startService, stop } from "./service.js";

/** How the replicas reach PostgreSQL. */
export type Route = "direct" | "pgbouncer";

export interface Replicas {
  /** In the order of their names. */
  services: Service[];
  /** The replica started as `--replica-name name` (the name its logs and the jobs table show). */
  named(name: string): Service;
  /** The table they share (dropped by stop()). */
  table: string;
  /** The PgBouncer in front of the database, on the "pgbouncer" route. */
  pooler: Pooler | undefined;
  /** A client whose every call goes to the next replica in turn (its own rotation). */
  roundRobin(): Client<typeof SessionService>;
  /** A client of one replica. */
  clientOf(index: number): Client<typeof SessionService>;
  /** The arguments that start one more replica named `name` on the same table and route. */
  argsFor(name: string): string[];
  /** The database as an operator sees it, bypassing the service (and the pooler). */
  admin: pg.Client;
  stop(): Promise<void>;
}

/**
 * Starts replicas of the service on a table of their own in the database of `databaseUrl`: `names`
 * says how many (named r0, r1, …) or what they are called. Stop or kill one with service.ts's
 * `stop(replicas.named(…))` or its `child`; `stop()` ends the rest and drops the table.
 */
export async function startReplicas(
  databaseUrl: string,
  route: Route,
  names: number | string[] = 3,
  extraArgs: string[] = [],
): Promise<Replicas> {
  const table = `rep_${route}_${process.pid}_${Math.random().toString(36).slice(2, 6)}`;
  const pooler = route === "pgbouncer" ? await startPgBouncer(databaseUrl) : undefined;
  const args = (name: string) => [
    ...["--database-url", pooler?.url ?? databaseUrl, "--table", table, "--replica-name", name],
    // Through the pooler, the change feed's one listening connection goes direct (LISTEN cannot pass it).
    ...(pooler ? ["--transaction-pooler", "true", "--listen-url", databaseUrl] : []),
    ...extraArgs,
  ];
  const admin = new pg.Client({ connectionString: databaseUrl });
  await admin.connect();
  const called = typeof names === "number" ? Array.from({ length: names }, (_, i) => `r${i}`) : names;
  const started = await Promise.allSettled(called.map((name) => startService(args(name))));
  const services = started.flatMap((result) => (result.status === "fulfilled" ? [result.value] : []));
  const failed = started.find((result) => result.status === "rejected");
  const stopAll = async () => {
    await Promise.all(services.map((service) => stop(service)));
    await dropServiceTable(admin, table);
    await admin.end();
    await pooler?.stop();
  };
  if (failed !== undefined) {
    await stopAll();
    throw failed.reason;
  }
  const transports = services.map((service) => createGrpcTransport({ baseUrl: `http://127.0.0.1:${service.port}` }));
  return {
    services,
    named: (name) => {
      const service = services[called.indexOf(name)];
      if (service === undefined) throw new Error(`no replica is named ${name}: ${called.join(", ")}`);
      return service;
    },
    table,
    pooler,
    roundRobin: () => createClient(SessionService, rotating(transports)),
    clientOf: (index) => createClient(SessionService, transports[index % transports.length] as Transport),
    argsFor: args,
    admin,
    stop: stopAll,
  };
}

/** A transport handing each call to the next of `transports`. */
function rotating(transports: Transport[]): Transport {
  let next = 0;
  const pick = () => transports[next++ % transports.length] as Transport;
  return {
    unary: (...args) => pick().unary(...args),
    stream: (...args) => pick().stream(...args),
  };
}
