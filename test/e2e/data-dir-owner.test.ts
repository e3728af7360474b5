// An embedded data directory is owned by one process at a time: a second server on it is refused
// with the owner named, and changes nothing; a lock left by a process killed with -9 does not
// block a restart.
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { freePort } from "../support/ports.js";
import { clientFor, runToExit, startService, stop } from "../support/service.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-owner-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const lockFile = (dataDir: string) => join(dataDir, "isotope-sessions.lock");

describe("one process per embedded data directory", () => {
  it("refuses a second server on the same directory, naming the owner, and the first's data stays intact", {
    timeout: 180_000,
  }, async () => {
    const dataDir = join(scratch, "shared");
    const first = await startService(["--data-dir", dataDir]);
    const client = clientFor(first);
    for (let n = 0; n < 20; n++) await client.save({ sessionId: `owner-${n}`, data: { n } });

    const second = await runToExit(["--port", String(await freePort()), "--data-dir", dataDir]);
    expect(second.code).toBe(1);
    const lines = second.stderr.trim().split("\n");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(
      `${dataDir} is in use by process ${first.child.pid} on ${hostname()} (port ${first.port})`,
    );
    expect(lines[0]).toContain("stop that server first, or give this one another --data-dir");

    // The first still serves, and its lock still names it.
    await client.save({ sessionId: "owner-after", data: { n: 20 } });
    expect(JSON.parse(readFileSync(lockFile(dataDir), "utf8"))).toMatchObject({
      pid: first.child.pid,
      port: first.port,
    });
    expect(await stop(first)).toBe(0);
    expect(existsSync(lockFile(dataDir))).toBe(false); // a clean stop removes it

    const again = await startService(["--data-dir", dataDir]);
    try {
      for (let n = 0; n < 20; n++) {
        const { session } = await clientFor(again).load({ sessionId: `owner-${n}` });
        expect(session?.data).toEqual({ n });
      }
      expect((await clientFor(again).load({ sessionId: "owner-after" })).session?.data).toEqual({ n: 20 });
    } finally {
      expect(await stop(again)).toBe(0);
    }
  });

  it("a lock left by a server killed with -9 does not block a restart", { timeout: 180_000 }, async () => {
    const dataDir = join(scratch, "killed");
    const first = await startService(["--data-dir", dataDir]);
    await clientFor(first).save({ sessionId: "before-kill", data: { kept: true } });
    first.child.kill("SIGKILL");
    expect(await first.exited).toBe("SIGKILL");
    expect(JSON.parse(readFileSync(lockFile(dataDir), "utf8"))).toMatchObject({ pid: first.child.pid });

    const restarted = await startService(["--data-dir", dataDir]);
    try {
      expect(JSON.parse(readFileSync(lockFile(dataDir), "utf8"))).toMatchObject({
        pid: restarted.child.pid,
        port: restarted.port,
      });
      const { session } = await clientFor(restarted).load({ sessionId: "before-kill" });
      expect(session?.data).toEqual({ kept: true });
    } finally {
      expect(await stop(restarted)).toBe(0);
    }
  });
});
