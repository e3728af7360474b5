// README's HTTP API lines, run as written with the real curl against a live server (only its
// address rewritten), in order: each answers the status written beside it, with a body the
// OpenAPI document describes.
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends } from "../support/databases.js";
import { schemaProblems } from "../support/http-api.js";
import { readmeSnippet } from "../support/readme.js";
import { type RunningServer, startServer } from "../support/server.js";

const run = promisify(execFile);
const documented = "http://localhost:50051";

/** Each `curl … # status` line of the snippet: the command and the status it documents. */
const lines = readmeSnippet("http-api", "sh")
  .split("\n")
  .filter((line) => line.startsWith("curl "))
  .map((line) => {
    const [, command, status] = /^(.*?)\s+#\s+(\d{3})\s*$/.exec(line) ?? [];
    if (command === undefined) throw new Error(`README line without "# status": ${line}`);
    return { command, status: Number(status) };
  });

describe.each(backends())("README's HTTP API lines on $name", (backend) => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(backend);
  });
  afterAll(async () => server?.stop());

  it("cover every endpoint, the seed's three test lines first", () => {
    expect(lines.slice(0, 3).map(({ command }) => command)).toEqual([
      `curl ${documented}/api/sessions/postgres/connection/test`,
      `curl ${documented}/api/sessions/postgres/statistics`,
      `curl -X POST ${documented}/api/sessions/postgres/restore`,
    ]);
    expect(lines.length).toBeGreaterThanOrEqual(12);
  });

  it("run with curl, each answering its documented status", async () => {
    for (const { command, status } of lines) {
      const line = command.replaceAll(documented, server.url);
      const { stdout } = await run("bash", ["-euo", "pipefail", "-c", `${line} -sS -w '\\n%{http_code}'`]);
      const answered = Number(stdout.slice(stdout.lastIndexOf("\n") + 1));
      expect(answered, command).toBe(status);
      const method = /-X (\w+)/.exec(command)?.[1] ?? "GET";
      const path = new URL(/'?(http:\/\/\S+?)'?(\s|$)/.exec(line)?.[1] ?? "").pathname;
      const body = JSON.parse(stdout.slice(0, stdout.lastIndexOf("\n")));
      expect(schemaProblems(method, path, answered, body), command).toEqual([]);
    }
  });
});
