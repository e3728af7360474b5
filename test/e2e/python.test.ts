// The Python drop-in for the seed's session manager, driven by Debian's python3 against a live
// server: its unittest suite, the README's Python snippet, and stubs that match proto/.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../support/databases.js";
import { readmeSnippet } from "../support/readme.js";
import { type RunningServer, startServer } from "../support/server.js";

const run = promisify(execFile);
// Debian's interpreter, where python3-grpcio and python3-protobuf live (.ci/run installs them).
const python = "/usr/bin/python3";
const clientDir = new URL("../../clients/python/", import.meta.url).pathname;

describe("the Python SessionManager", () => {
  let server: RunningServer;
  let env: NodeJS.ProcessEnv;
  beforeAll(async () => {
    await run(python, ["-c", "import grpc, google.protobuf"]).catch(() => {
      throw new Error(
        "Debian's python3-grpcio and python3-protobuf are needed: apt-get install python3-grpcio python3-protobuf protobuf-compiler protobuf-compiler-grpc (.ci/run does)",
      );
    });
    server = await startServer(embedded);
    env = { ...process.env, ISOTOPE_SESSIONS_TARGET: `127.0.0.1:${server.port}`, PYTHONDONTWRITEBYTECODE: "1" };
  });
  afterAll(async () => server?.stop());

  it("passes its seed-API suite against the live server", async () => {
    const { stderr } = await run(python, ["-m", "unittest", "-v", "test_session_manager"], { cwd: clientDir, env });
    expect(stderr).toMatch(/Ran 6 tests[\s\S]*OK/);
  }, 60_000);

  it("runs the README's Python snippet as written", async () => {
    const { stdout } = await run(python, ["-c", readmeSnippet("client-python", "python")], {
      cwd: clientDir,
      env,
    });
    expect(stdout).toContain("connected: True");
    expect(stdout).toContain("'content': '你好'");
    expect(stdout).toMatch(/restored [1-9]\d* sessions/);
  }, 60_000);

  it("uses stubs generated from proto/ by generate.sh, unedited", async () => {
    const scratch = mkdtempSync(join(tmpdir(), "isotope-pystubs-"));
    try {
      await run(join(clientDir, "generate.sh"), [scratch]);
      for (const file of ["session_pb2.py", "session_pb2_grpc.py"]) {
        const generated = readFileSync(join(scratch, "isotope/session/v1", file), "utf8");
        expect(readFileSync(join(clientDir, "isotope/session/v1", file), "utf8")).toBe(generated);
      }
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });
});
