// The client as a user installs it: `npm pack`, install the tarball into a scratch project
// outside the workspace, type-check the README's TypeScript snippet under strict, run it against
// a live server.
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { embedded } from "../../../test/support/databases.js";
import { readmeSnippet } from "../../../test/support/readme.js";
import { type RunningServer, startServer } from "../../../test/support/server.js";

const run = promisify(execFile);
const root = new URL("../../..", import.meta.url).pathname;
const packageDir = join(root, "packages/client");

describe("the packed client", () => {
  const scratch = mkdtempSync(join(tmpdir(), "isotope-client-user-"));
  let server: RunningServer;
  let tarball: string;

  beforeAll(async () => {
    server = await startServer(embedded);
    const { stdout } = await run("npm", ["pack", "--json", "--pack-destination", scratch], { cwd: packageDir });
    tarball = join(scratch, (JSON.parse(stdout) as Array<{ filename: string }>)[0]?.filename ?? "");
    writeFileSync(join(scratch, "package.json"), JSON.stringify({ name: "engine", private: true, type: "module" }));
    await run("npm", ["install", "--no-audit", "--no-fund", tarball], { cwd: scratch });
  }, 180_000);
  afterAll(async () => {
    await server.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("depends on nothing but connect, connect-node and protobuf at run time", () => {
    const installed = JSON.parse(
      readFileSync(join(scratch, "node_modules/@isotope/session-client/package.json"), "utf8"),
    ) as { dependencies: Record<string, string>; devDependencies?: unknown };
    expect(Object.keys(installed.dependencies).sort()).toEqual([
      "@bufbuild/protobuf",
      "@connectrpc/connect",
      "@connectrpc/connect-node",
    ]);
  });

  it("type-checks the README snippet under strict and runs it against a live server", async () => {
    writeFileSync(join(scratch, "engine.ts"), readmeSnippet("client-ts", "ts"));
    writeFileSync(
      join(scratch, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          target: "ES2022",
          module: "NodeNext",
          moduleResolution: "NodeNext",
          outDir: "out",
          typeRoots: [join(root, "node_modules/@types")],
          types: ["node"],
          skipLibCheck: false,
        },
        files: ["engine.ts"],
      }),
    );
    await run(join(root, "node_modules/.bin/tsc"), ["-p", "tsconfig.json"], { cwd: scratch });
    const { stdout } = await run("node", ["out/engine.js"], {
      cwd: scratch,
      env: { ...process.env, SESSIONS_URL: server.url },
    });
    expect(stdout).toContain("loaded version 2 with 3 messages");
    expect(stdout).toContain('"durability":"DURABILITY_DATABASE"');
    expect(stdout).toMatch(/"version":2,"isActive":true,"messageCount":3/);
    expect(stdout).toContain("restored 1 sessions");
  }, 120_000);
});
