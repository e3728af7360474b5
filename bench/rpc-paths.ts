/**
 * The paths through the product's server, one per Node client an engine could use: the product's
 * own client, a bare connect-node client, grpc-js, and a minimal node:http2 client (the floor).
 * Each keeps one HTTP/2 connection for the whole run.
 */
import http from "node:http";
import http2 from "node:http2";
import { create, type DescMessage, fromBinary, toBinary } from "@bufbuild/protobuf";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import * as grpc from "@grpc/grpc-js";
import {
  LoadRequestSchema,
  LoadResponseSchema,
  SaveRequestSchema,
  SaveResponseSchema,
  SessionService,
} from "../gen/isotope/session/v1/session_pb.js";
import { createSessionClient } from "../packages/client/src/index.js";
import type { DriverArgs, OpenPath } from "./paths.js";
import { nextDocument, type Operation, sessionId } from "./workload.js";

/** `client`: createSessionClient as a user calls it — its retries and request checks included. */
export const openProductClient = async (args: DriverArgs) =>
  viaConnectClient(createSessionClient({ baseUrl: args.url as string }));

/** `connect-node`: connect-node's gRPC transport with nothing added. */
export const openConnectNode = async (args: DriverArgs) =>
  viaConnectClient(createClient(SessionService, createGrpcTransport({ baseUrl: args.url as string })));

function viaConnectClient(client: Client<typeof SessionService>): OpenPath {
  return {
    call: (operation, index) =>
      operation === "load"
        ? client.load({ sessionId: sessionId(index) })
        : client.save({ sessionId: sessionId(index), data: nextDocument(index) }),
    close: async () => {},
  };
}

/** One operation as a gRPC call: the method's path, the encoded request, the response's schema. */
function encode(operation: Operation, index: number): { path: string; request: Uint8Array; output: DescMessage } {
  return operation === "load"
    ? {
        path: `/${SessionService.typeName}/Load`,
        request: toBinary(LoadRequestSchema, create(LoadRequestSchema, { sessionId: sessionId(index) })),
        output: LoadResponseSchema,
      }
    : {
        path: `/${SessionService.typeName}/Save`,
        request: toBinary(
          SaveRequestSchema,
          create(SaveRequestSchema, { sessionId: sessionId(index), data: nextDocument(index) }),
        ),
        output: SaveResponseSchema,
      };
}

/**
 * `grpc-js`: a generic @grpc/grpc-js client on one channel. The request is encoded before the
 * call (protobuf-es toBinary), so grpc-js's serializer only wraps the bytes; its deserializer is
 * protobuf-es fromBinary.
 */
export async function openGrpcJs(args: DriverArgs): Promise<OpenPath> {
  const client = new grpc.Client(new URL(args.url as string).host, grpc.credentials.createInsecure());
  const toBuffer = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return {
    call: (operation, index) => {
      const { path, request, output } = encode(operation, index);
      return new Promise((resolve, reject) =>
        client.makeUnaryRequest(
          path,
          toBuffer,
          (bytes) => fromBinary(output, bytes),
          request,
          (error, response) => (error ? reject(error) : resolve(response)),
        ),
      );
    },
    close: async () => client.close(),
  };
}

/**
 * `product-lean`: unary gRPC on one node:http2 session, nothing else — encode, frame, send; read
 * the frame, check the status, decode. What a native gRPC stack costs, to tell the server's cost
 * from a client's.
 */
export async function openLean(args: DriverArgs): Promise<OpenPath> {
  const session = http2.connect(args.url as string);
  return {
    call: (operation, index) => {
      const { path, request, output } = encode(operation, index);
      return new Promise((resolve, reject) => {
        const stream = session.request({
          ":method": "POST",
          ":path": path,
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
          if (status !== "0") return reject(new Error(`${path}: grpc-status ${String(status)}`));
          resolve(fromBinary(output, Buffer.concat(chunks).subarray(5)));
        });
        const frame = Buffer.alloc(5 + request.byteLength);
        frame.writeUInt32BE(request.byteLength, 1);
        frame.set(request, 5);
        stream.end(frame);
      });
    },
    close: async () => {
      session.close();
    },
  };
}

/**
 * `connect-h1-lean`: the same minimal client in Connect's protocol — binary unary, a plain POST
 * of `application/proto` over HTTP/1.1 keep-alive (one socket per call in flight) — to weigh
 * Connect on HTTP/1.1 against gRPC on HTTP/2 with nothing else on either side.
 */
export async function openConnectHttp1Lean(args: DriverArgs): Promise<OpenPath> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: args.concurrency });
  const base = new URL(args.url as string);
  return {
    call: (operation, index) => {
      const { path, request, output } = encode(operation, index);
      return new Promise((resolve, reject) => {
        const req = http.request(
          {
            agent,
            host: base.hostname,
            port: base.port,
            method: "POST",
            path,
            headers: {
              "content-type": "application/proto",
              "connect-protocol-version": "1",
              "content-length": request.byteLength,
            },
          },
          (res) => {
            const chunks: Buffer[] = [];
            res.on("data", (chunk: Buffer) => chunks.push(chunk));
            res.on("error", reject);
            res.on("end", () => {
              if (res.statusCode !== 200) return reject(new Error(`${path}: HTTP ${res.statusCode}`));
              resolve(fromBinary(output, Buffer.concat(chunks)));
            });
          },
        );
        req.on("error", reject);
        req.end(request);
      });
    },
    close: async () => agent.destroy(),
  };
}
