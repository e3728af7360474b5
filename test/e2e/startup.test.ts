// Start-up mistakes a newcomer makes get one readable line on stderr (what, where, what to do) and
// exit 1: a taken port fails before the data directory is touched; an unusable data directory is
// named with the operating system's reason. And the port is bound before the database opens: a
// call arriving meanwhile gets UNAVAILABLE.
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Code, ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { afterAll, describe, expect, it } from "vitest";
import { Health, HealthCheckResponse_ServingStatus } from "../../gen/health/v1/health_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { createApp } from "../../src/app.js";
import { freePort } from "../support/ports.js";
import { capturingLogger, testConfig } from "../support/server.js";
import { runToExit } from "../support/service.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-startup-"));
chmodSync(scratch, 0o755); // another user (the EACCES case) may walk through it
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** The one line a failed start-up writes on stderr. */
function oneLine(stderr: string): string {
  const lines = stderr.trim().split("\n");
  expect(lines).toHaveLength(1);
  expect(lines[0]).toMatch(/^isotope-sessions failed to start: /);
  return lines[0] as string;
}

describe("start-up failures", () => {
  it("a taken port fails fast and never touches the data directory", { timeout: 60_000 }, async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const { port } = taken.address() as net.AddressInfo;
    const dataDir = join(scratch, "never-created");
    try {
      const result = await runToExit(["--port", String(port), "--host", "127.0.0.1", "--data-dir", dataDir]);
      expect(result.code).toBe(1);
      expect(oneLine(result.stderr)).toContain(`port ${port} on 127.0.0.1 is already in use (EADDRINUSE)`);
      expect(existsSync(dataDir)).toBe(false);
      // Node and tsx starting take most of it on a loaded machine; the database is never opened.
      expect(result.ms).toBeLessThan(15_000);
    } finally {
      await new Promise((resolve) => taken.close(resolve));
    }
  });

  it("a data directory whose parent is a file: the path and ENOTDIR", { timeout: 60_000 }, async () => {
    writeFileSync(join(scratch, "a-file"), "not a directory");
    const dataDir = join(scratch, "a-file", "data");
    const result = await runToExit(["--port", String(await freePort()), "--data-dir", dataDir]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toContain(`data directory ${dataDir} (ENOTDIR)`);
  });

  it("a data directory this user may not write: the path and EACCES", { timeout: 60_000 }, async () => {
    const rootOwned = join(scratch, "root-owned");
    mkdirSync(rootOwned, { mode: 0o755 });
    const dataDir = join(rootOwned, "data");
    // Tests run as root, whom permissions do not stop: run the service as nobody.
    const result = await runToExit(["--port", String(await freePort()), "--data-dir", dataDir], {
      uid: 65534,
      gid: 65534,
    });
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toContain(`data directory ${dataDir} (EACCES): permission denied`);
    expect(existsSync(dataDir)).toBe(false);
  });

  it("a directory of another PostgreSQL version: the path and its version, left as it was", {
    timeout: 60_000,
  }, async () => {
    const dataDir = join(scratch, "pg15");
    mkdirSync(join(dataDir, "base"), { recursive: true, mode: 0o755 });
    writeFileSync(join(dataDir, "PG_VERSION"), "15\n");
    const result = await runToExit(["--port", String(await freePort()), "--data-dir", dataDir]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toContain(`cannot open ${dataDir}, which holds data of PostgreSQL 15`);
    expect(readdirSync(dataDir).sort()).toEqual(["PG_VERSION", "base"]);
    expect(statSync(dataDir).mode & 0o777).toBe(0o755);
  });

  it("a directory holding other files and no database is refused, not written into", { timeout: 60_000 }, async () => {
    const dataDir = join(scratch, "home-like");
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, "notes.txt"), "mine");
    const result = await runToExit(["--port", String(await freePort()), "--data-dir", dataDir]);
    expect(result.code).toBe(1);
    expect(oneLine(result.stderr)).toContain(`${dataDir} holds files that are not a database (notes.txt)`);
    expect(readdirSync(dataDir)).toEqual(["notes.txt"]); // the lock taken while checking is gone
  });
});

describe("the port is bound before the database opens", () => {
  it("a call arriving while the database opens gets UNAVAILABLE, health NOT_SERVING; then it serves", {
    timeout: 120_000,
  }, async () => {
    const port = await freePort();
    const logs: Array<Record<string, unknown>> = [];
    const opening = createApp(testConfig({ database: { kind: "embedded", dataDir: join(scratch, "opening") } }), {
      log: capturingLogger(logs),
      bindFirst: { port, host: "127.0.0.1" },
      healthProbeMs: 200,
    });
    // Bound within moments; a new embedded database takes seconds to create.
    await expect.poll(() => logs.some((line) => line.msg === "port bound: opening the database")).toBe(true);
    const transport = createGrpcTransport({ baseUrl: `http://127.0.0.1:${port}` });
    const sessions = createClient(SessionService, transport);
    const health = createClient(Health, transport);
    const early = await sessions.save({ sessionId: "early", data: { n: 1 } }).catch((error: unknown) => error);
    expect(ConnectError.from(early).code).toBe(Code.Unavailable);
    expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.NOT_SERVING);

    const app = await opening;
    try {
      expect(await app.listen(port, "127.0.0.1")).toBe(port);
      expect((await health.check({ service: "" })).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
      await sessions.save({ sessionId: "later", data: { n: 2 } });
      expect((await sessions.load({ sessionId: "later" })).session?.data).toEqual({ n: 2 });
    } finally {
      await app.stop(1000);
    }
  });
});
