// The Python drop-in for the seed's session manager, driven by Debian's python3 against a live
// server: its unittest suite (PGlite, and PostgreSQL when DATABASE_URL is set), the README's Python snippet (from another folder, with access control
// on and over mutual TLS, configured from the environment), and stubs that match proto/.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { AuthConfig } from "../../src/config/load-config.js";
import { makeCertificates } from "../support/certificates.js";
import { backends, embedded } from "../support/databases.js";
import { readmeSnippet } from "../support/readme.js";
import { type RunningServer, startServer, testLimits } from "../support/server.js";

const run = promisify(execFile);
// Debian's interpreter, where python3-grpcio and python3-protobuf live (.ci/run installs them).
const python = "/usr/bin/python3";
const clientDir = new URL("../../clients/python/", import.meta.url).pathname;
const token = "python-engine-token";
const auth: AuthConfig = {
  tokens: [{ name: "engine", role: "write", sha256: createHash("sha256").update(token).digest("hex") }],
  protectHealth: false,
  protectReflection: false,
};
/** The README's Python snippet, as a user runs it: from their own folder, clients/python on PYTHONPATH. */
const runSnippet = async (env: NodeJS.ProcessEnv) => {
  const elsewhere = mkdtempSync(join(tmpdir(), "isotope-engine-"));
  try {
    return await run(python, ["-c", readmeSnippet("client-python", "python")], {
      cwd: elsewhere,
      env: { ...env, PYTHONPATH: clientDir, PYTHONDONTWRITEBYTECODE: "1" },
    });
  } finally {
    rmSync(elsewhere, { recursive: true, force: true });
  }
};

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

  // On each backend: leases and fenced writes are decided in the database.
  for (const backend of backends()) {
    it(`passes its seed-API and lease suite against the live server (${backend.name})`, async () => {
      const own = backend === embedded ? server : await startServer(backend);
      try {
        const target = { ...env, ISOTOPE_SESSIONS_TARGET: `127.0.0.1:${own.port}` };
        const { stderr } = await run(python, ["-m", "unittest", "-v", "test_session_manager"], {
          cwd: clientDir,
          env: target,
        });
        expect(stderr).toMatch(/Ran 21 tests[\s\S]*OK/);
      } finally {
        if (own !== server) await own.stop();
      }
    }, 60_000);
  }

  it("runs the README's Python snippet as written, from another folder", async () => {
    const { stdout } = await runSnippet(env);
    expect(stdout).toContain("connected: True");
    expect(stdout).toContain("'content': '你好'");
    expect(stdout).toMatch(/restored [1-9]\d* sessions/);
  }, 60_000);

  it("runs the README snippet with access control on: the token from ISOTOPE_SESSIONS_TOKEN", async () => {
    const guarded = await startServer(embedded, testLimits, 0, [], undefined, { auth });
    try {
      const target = { ...process.env, ISOTOPE_SESSIONS_TARGET: `127.0.0.1:${guarded.port}` };
      const { stdout } = await runSnippet({ ...target, ISOTOPE_SESSIONS_TOKEN: token });
      expect(stdout).toContain("connected: True");
      expect(stdout).toContain("'content': '你好'");
      expect(stdout).toMatch(/^1 sessions \n/m);
      expect(stdout).toContain("restored 1 sessions");
      // Without the token every call is refused, and the snippet still runs to its end: the seed's
      // keys come back as zeros with the reason (it raised KeyError: 'total_sessions' before).
      const refused = await runSnippet(target);
      expect(refused.stdout).toContain("connected: False");
      expect(refused.stdout).toMatch(/^0 sessions UNAUTHENTICATED: .*Bearer/m);
      expect(refused.stdout).toContain("restored 0 sessions");
    } finally {
      await guarded.stop();
    }
  }, 120_000);

  it("runs the README snippet over mutual TLS with CA, certificate and key from the environment", async () => {
    const certs = makeCertificates();
    const tls = await startServer(embedded, testLimits, 0, [], undefined, {
      auth,
      tls: { cert: certs.serverCert, key: certs.serverKey, clientCa: certs.ca },
    });
    try {
      const { stdout } = await runSnippet({
        ...process.env,
        ISOTOPE_SESSIONS_TARGET: `localhost:${tls.port}`,
        ISOTOPE_SESSIONS_TOKEN: token,
        ISOTOPE_SESSIONS_CA_FILE: certs.paths.ca,
        ISOTOPE_SESSIONS_CERT_FILE: certs.paths.clientCert,
        ISOTOPE_SESSIONS_KEY_FILE: certs.paths.clientKey,
      });
      expect(stdout).toContain("connected: True");
      expect(stdout).toContain("restored 1 sessions");
    } finally {
      await tls.stop();
      certs.remove();
    }
  }, 120_000);

  it("says which interpreter lacks grpcio and what to install", async () => {
    // An interpreter without Debian's dist-packages stands for the wrong python3 on PATH.
    const result = await run(python, ["-S", "-c", "import isotope_sessions"], {
      cwd: tmpdir(),
      env: { ...process.env, PYTHONPATH: clientDir },
    }).catch((error: { stderr: string }) => error);
    expect(result.stderr).toMatch(
      /isotope_sessions needs grpcio and protobuf, which \/usr\/bin\/python3 cannot import/,
    );
    expect(result.stderr).toContain("apt-get install python3-grpcio python3-protobuf");
  });

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
