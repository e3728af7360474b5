// kill -9 in the middle of a write load, then a restart: every Save that was acknowledged is
// there, on the embedded backend and on PostgreSQL.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { dropServiceTable, postgresUrl } from "../support/databases.js";
import { reportSkippedWithoutPostgres } from "../support/postgres-only.js";
import { clientFor, type Service, startService, stop } from "../support/service.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-crash-"));
const table = `crash_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
afterAll(async () => {
  rmSync(scratch, { recursive: true, force: true });
  if (!postgresUrl) return;
  const client = new pg.Client({ connectionString: postgresUrl });
  await client.connect();
  await dropServiceTable(client, table);
  await client.end();
});

const backends: Array<{ name: string; args: string[]; env: Record<string, string> }> = [
  { name: "embedded", args: ["--data-dir", join(scratch, "data")], env: {} },
  ...(postgresUrl ? [{ name: "postgres", args: ["--table", table], env: { DATABASE_URL: postgresUrl } }] : []),
];

reportSkippedWithoutPostgres("kill -9 under a write load on postgres");
describe.each(backends)("kill -9 under a write load on $name", ({ args, env }) => {
  it("loses no acknowledged Save", { timeout: 180_000 }, async () => {
    const first: Service = await startService(args, env);
    const client = clientFor(first);
    const acknowledged = new Map<string, number>();
    let killed = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      const sessionId = `crash-${w}`;
      for (let n = 1; !killed; n++) {
        try {
          await client.save({ sessionId, data: { n, messages: [{ role: "user", content: "y".repeat(500) }] } });
          acknowledged.set(sessionId, n);
        } catch {
          return; // the process is gone
        }
      }
    });
    await new Promise((resolve) => setTimeout(resolve, 1500));
    first.child.kill("SIGKILL");
    killed = true;
    expect(await first.exited).toBe("SIGKILL");
    await Promise.all(writers);
    expect(acknowledged.size).toBe(8);

    const second = await startService(args, env);
    try {
      for (const [sessionId, n] of acknowledged) {
        const { session } = await clientFor(second).load({ sessionId });
        // The last acknowledged write is there (or one after it whose reply the kill cut off).
        expect(session?.data?.n).toBeGreaterThanOrEqual(n);
        expect(session?.version).toBe(BigInt(session?.data?.n as number));
      }
    } finally {
      expect(await stop(second)).toBe(0);
    }
  });
});
