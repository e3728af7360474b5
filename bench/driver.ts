/**
 * One bench run in its own process: drives one path with one workload and prints its figures as
 * one JSON line. Paths:
 * - `raw-pg`: the product's own SQL (its repository) on a `pg` Pool in this process — the limit;
 * - `peer`: connect-pg-simple's store API (get / set) on a `pg` Pool — what a Node user would pick;
 * - `product`: the real server (another process) over gRPC, one HTTP/2 connection, with the
 *   connect-node client an engine in Node would use (@isotope/session-client is built on it);
 * - `product-lean`: the same server through a minimal gRPC client (node:http2 and protobuf-es, as
 *   a native gRPC stack would cost) — to tell the server's cost from connect-node's client's.
 * Usage: tsx bench/driver.ts '<json DriverArgs>'
 */
import http2 from "node:http2";
import { create, type DescMessage, fromBinary, type MessageShape, toBinary } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import pgSession from "connect-pg-simple";
import session from "express-session";
import pg from "pg";
import pino from "pino";
import {
  LoadRequestSchema,
  LoadResponseSchema,
  SaveRequestSchema,
  SaveResponseSchema,
  SessionService,
} from "../gen/isotope/session/v1/session_pb.js";
import { openPostgres } from "../src/db/postgres.js";
import { createSessionRepository } from "../src/sessions/repository/create.js";
import { closedLoop, type Operation, sessionData, sessionId, type Workload } from "./workload.js";

export interface DriverArgs {
  /** product and product-nocache differ only in the server they call (see run.ts). */
  path: "raw-pg" | "peer" | "product" | "product-nocache" | "product-lean";
  workload: Workload;
  concurrency: number;
  warmupMs: number;
  durationMs: number;
  sessions: number;
  databaseUrl: string;
  /** The product's table (raw-pg) and the peer's table. */
  table: string;
  peerTable: string;
  /** The product server's address (product). */
  url?: string;
  poolMax: number;
}

type Call = (operation: Operation, index: number) => Promise<unknown>;

async function open(args: DriverArgs): Promise<{ call: Call; close(): Promise<void> }> {
  let generation = 0;
  if (args.path === "raw-pg") {
    const db = await openPostgres(
      { connectionString: args.databaseUrl, poolMax: args.poolMax, statementTimeoutMs: 30_000, connectTimeoutMs: 5000 },
      pino({ level: "silent" }),
    );
    const repository = createSessionRepository(db, args.table);
    return {
      call: (operation, index) =>
        operation === "load"
          ? repository.load(sessionId(index), false)
          : repository.save({
              sessionId: sessionId(index),
              dataJson: JSON.stringify(sessionData(index, ++generation)),
              metadataJson: undefined,
              expiry: { kind: "never" },
              expectedVersion: undefined,
            }),
      close: () => db.close(),
    };
  }
  if (args.path === "peer") {
    const pool = new pg.Pool({ connectionString: args.databaseUrl, max: args.poolMax });
    const Store = pgSession(session);
    const store = new Store({ pool, tableName: args.peerTable });
    const get = (sid: string) =>
      new Promise((resolve, reject) => store.get(sid, (error, value) => (error ? reject(error) : resolve(value))));
    const set = (sid: string, value: session.SessionData) =>
      new Promise<void>((resolve, reject) => store.set(sid, value, (error) => (error ? reject(error) : resolve())));
    return {
      call: (operation, index) =>
        operation === "load"
          ? get(sessionId(index))
          : set(sessionId(index), {
              cookie: { originalMaxAge: 86_400_000, maxAge: 86_400_000 } as session.Cookie,
              ...sessionData(index, ++generation),
            }),
      close: async () => {
        store.close();
        await pool.end();
      },
    };
  }
  if (args.path === "product-lean") return leanClient(args.url as string, () => ++generation);
  const client = createClient(SessionService, createGrpcTransport({ baseUrl: args.url as string }));
  return {
    call: (operation, index) =>
      operation === "load"
        ? client.load({ sessionId: sessionId(index) })
        : client.save({ sessionId: sessionId(index), data: sessionData(index, ++generation) }),
    close: async () => {},
  };
}

/** Unary gRPC on one HTTP/2 session: encode, frame, send; read the frame, check the status, decode. */
function leanClient(url: string, nextGeneration: () => number): { call: Call; close(): Promise<void> } {
  const session = http2.connect(url);
  const unary = <O extends DescMessage>(method: string, request: Uint8Array, output: O) =>
    new Promise<MessageShape<O>>((resolve, reject) => {
      const stream = session.request({
        ":method": "POST",
        ":path": `/${SessionService.typeName}/${method}`,
        "content-type": "application/grpc",
        te: "trailers",
      });
      const chunks: Buffer[] = [];
      let status: unknown;
      stream.on("response", (headers) => {
        status = headers["grpc-status"] ?? status;
      });
      stream.on("trailers", (trailers) => {
        status = trailers["grpc-status"];
      });
      stream.on("data", (chunk: Buffer) => chunks.push(chunk));
      stream.on("error", reject);
      stream.on("end", () => {
        if (status !== "0") return reject(new Error(`${method}: grpc-status ${String(status)}`));
        resolve(fromBinary(output, Buffer.concat(chunks).subarray(5)));
      });
      const frame = Buffer.alloc(5 + request.byteLength);
      frame.writeUInt32BE(request.byteLength, 1);
      frame.set(request, 5);
      stream.end(frame);
    });
  return {
    call: (operation, index) =>
      operation === "load"
        ? unary(
            "Load",
            toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: sessionId(index) })),
            LoadResponseSchema,
          )
        : unary(
            "Save",
            toBinary(
              SaveRequestSchema,
              create(SaveRequestSchema, { sessionId: sessionId(index), data: sessionData(index, nextGeneration()) }),
            ),
            SaveResponseSchema,
          ),
    close: async () => {
      session.close();
    },
  };
}

const args = JSON.parse(process.argv[2] as string) as DriverArgs;
const path = await open(args);
// The orchestrator reads the server's CPU time when the measured window opens and closes.
const figures = await closedLoop(path.call, args, {
  opened: () => process.stdout.write("window-open\n"),
  closed: () => process.stdout.write("window-closed\n"),
});
await path.close();
process.stdout.write(`${JSON.stringify(figures)}\n`);
