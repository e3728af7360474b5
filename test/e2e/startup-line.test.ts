// What a person running `npm start` in a terminal reads: one line on stderr saying where the
// service listens and on which database, beside the JSON log — and nothing extra for a log shipper.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startService, stop } from "../support/service.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-startup-line-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("the start-up line", () => {
  it("with LOG_FORMAT=pretty says where it serves, on which database; json keeps stderr quiet", {
    timeout: 120_000,
  }, async () => {
    const pretty = await startService(["--data-dir", join(scratch, "pretty"), "--host", "127.0.0.1"], {
      LOG_FORMAT: "pretty",
    });
    const prettyErr = pretty.errorOutput();
    await stop(pretty);
    expect(prettyErr).toContain(
      `isotope-sessions serving gRPC, gRPC-Web and Connect on http://127.0.0.1:${pretty.port} (the HTTP API under /api, metrics at /metrics, the admin console at /admin) — embedded database in ${join(scratch, "pretty")}; access control off`,
    );

    const json = await startService(["--data-dir", join(scratch, "json"), "--log-format", "json"]);
    const jsonErr = json.errorOutput();
    await stop(json);
    expect(jsonErr).not.toContain("isotope-sessions serving");
    expect(json.lines().some((line) => line.msg === "serving")).toBe(true);
  });
});
