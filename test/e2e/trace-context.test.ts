// A W3C traceparent on a call reaches that call's log line, by every way a call arrives: the gRPC
// lane, the unary adapter (Connect binary), connect-es (Connect JSON, a server stream), the HTTP
// API and in memory. Without one — or with one the spec calls invalid — the line gets a new trace id.
import { create } from "@bufbuild/protobuf";
import { createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LoadRequestSchema, SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { embedded } from "../support/databases.js";
import { type RunningServer, startInMemory, startServer } from "../support/server.js";

const traceId = "4bf92f3577b34da6a3ce929d0e0e4736";
const traceparent = `00-${traceId}-00f067aa0ba902b7-01`;

let server: RunningServer;
beforeAll(async () => {
  server = await startServer(embedded);
});
afterAll(async () => server.stop());

/** The log line of the one call made with `sessionId`. */
function lineOf(sessionId: string): Record<string, unknown> {
  const lines = server.logs.filter((line) => line.msg === "rpc" && line.session_id === sessionId);
  expect(lines).toHaveLength(1);
  return lines[0] as Record<string, unknown>;
}

const ways: Array<[string, () => Transport]> = [
  ["gRPC over HTTP/2", () => createGrpcTransport({ baseUrl: server.url })],
  [
    "Connect binary over HTTP/1.1",
    () => createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", useBinaryFormat: true }),
  ],
  ["Connect JSON over HTTP/1.1", () => createConnectTransport({ baseUrl: server.url, httpVersion: "1.1" })],
];

describe.each(ways)("a unary call by %s", (way, transport) => {
  const id = (what: string) => `${way.replace(/\W+/g, "-")}-${what}`;
  const save = (sessionId: string, headers: Record<string, string>) =>
    createClient(SessionService, transport()).save({ sessionId, data: {} }, { headers });

  it("logs the trace id of the traceparent it carries", async () => {
    await save(id("traced"), { traceparent });
    expect(lineOf(id("traced")).trace_id).toBe(traceId);
  });

  it("logs a new trace id, different for each call, when it carries none or an invalid one", async () => {
    await save(id("untraced-1"), {});
    await save(id("untraced-2"), { traceparent: `00-${"0".repeat(32)}-00f067aa0ba902b7-01` });
    const first = lineOf(id("untraced-1")).trace_id;
    const second = lineOf(id("untraced-2")).trace_id;
    expect(first).toMatch(/^[\da-f]{32}$/);
    expect(second).toMatch(/^[\da-f]{32}$/);
    expect(first).not.toBe(second);
  });
});

it("a server-streaming call (connect-es's path) logs the trace id it carries", async () => {
  const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  const before = server.logs.length;
  for await (const _ of client.restoreStream({}, { headers: { traceparent } })) {
    // drained: the line is written when the stream ends
  }
  const line = server.logs.slice(before).find((l) => l.procedure === "isotope.session.v1.SessionService/RestoreStream");
  expect(line?.trace_id).toBe(traceId);
});

it("a failed call's line carries the trace id too", async () => {
  const client = createClient(SessionService, createGrpcTransport({ baseUrl: server.url }));
  await expect(
    client.load(create(LoadRequestSchema, { sessionId: "missing-traced" }), { headers: { traceparent } }),
  ).rejects.toThrow(/not found/i);
  expect(lineOf("missing-traced")).toMatchObject({ code: "not_found", trace_id: traceId });
});

it("a call through the seed's HTTP API logs the trace id of the traceparent it carries", async () => {
  const response = await fetch(`${server.url}/api/sessions/postgres/sessions/http-traced`, {
    method: "PUT",
    headers: { "content-type": "application/json", traceparent },
    body: JSON.stringify({ session_data: {} }),
  });
  expect(response.status).toBe(201);
  expect(lineOf("http-traced").trace_id).toBe(traceId);
});

it("a call made in memory through the routes (as the HTTP API makes them) reads the header itself", async () => {
  const memory = await startInMemory(embedded);
  try {
    const client = createClient(SessionService, memory.transport);
    await client.save({ sessionId: "in-memory-traced", data: {} }, { headers: { traceparent } });
    await client.save({ sessionId: "in-memory-untraced", data: {} });
    const line = (sessionId: string) => memory.logs.find((l) => l.msg === "rpc" && l.session_id === sessionId);
    expect(line("in-memory-traced")?.trace_id).toBe(traceId);
    expect(line("in-memory-untraced")?.trace_id).toMatch(/^[\da-f]{32}$/);
    expect(line("in-memory-untraced")?.trace_id).not.toBe(traceId);
  } finally {
    await memory.stop();
  }
});
