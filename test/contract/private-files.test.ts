// What the service writes to disk is its user's alone, whatever the umask: the embedded data
// directory (including files PostgreSQL creates after it opened: new relations, WAL segments) and
// the outage spool. And the embedded data directory is one process's at a time.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeEach, describe, expect, it } from "vitest";
import { DataDirectoryError } from "../../src/db/data-dir.js";
import { openEmbedded } from "../../src/db/embedded.js";
import { migrate } from "../../src/db/migrate.js";
import { createSessionRepository } from "../../src/sessions/repository/create.js";
import { openJournal } from "../../src/sessions/repository/spool-journal.js";
import { silentLogger } from "../support/databases.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-private-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

let umask: number;
beforeEach(() => {
  umask = process.umask(0); // the most permissive umask there is
});
afterEach(() => {
  process.umask(umask);
});

/** Every path under `dir` (itself included) with its permission bits, files and directories apart. */
function modes(dir: string): { files: Map<string, number>; dirs: Map<string, number> } {
  const files = new Map<string, number>();
  const dirs = new Map<string, number>([[dir, statSync(dir).mode & 0o777]]);
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    const path = join(entry.parentPath, entry.name);
    (entry.isDirectory() ? dirs : files).set(path, statSync(path).mode & 0o777);
  }
  return { files, dirs };
}

const notPrivate = (found: Map<string, number>, wanted: number) =>
  [...found].filter(([, mode]) => mode !== wanted).map(([path, mode]) => `${path} ${mode.toString(8)}`);

describe("private files", () => {
  it("the embedded data directory is 0700 and every file 0600, those created after opening too", {
    timeout: 120_000,
  }, async () => {
    const dataDir = join(scratch, "embedded");
    const db = await openEmbedded({ dataDir }, silentLogger());
    const before = modes(dataDir).files;
    // New relations (tables, indexes, TOAST), catalog changes, and new WAL segments.
    await migrate(db, { table: "isotope_sessions" }, silentLogger());
    await db.exec("CREATE TABLE filler (id int PRIMARY KEY, body text)");
    await db.exec("INSERT INTO filler SELECT g, repeat(md5(g::text), 40) FROM generate_series(1, 5000) g");
    await db.query("SELECT pg_switch_wal()");
    await db.exec("INSERT INTO filler SELECT g, 'x' FROM generate_series(5001, 6000) g");
    await db.exec("CHECKPOINT");
    await db.close();

    const { files, dirs } = modes(dataDir);
    expect([...files.keys()].filter((path) => !before.has(path)).length).toBeGreaterThan(3);
    expect(notPrivate(files, 0o600)).toEqual([]);
    expect(notPrivate(dirs, 0o700)).toEqual([]);
  });

  it("the spool directory is 0700, its journal and conflicts files 0600", async () => {
    const db = await openEmbedded({ dataDir: join(scratch, "spool-db") }, silentLogger());
    try {
      await migrate(db, { table: "isotope_sessions" }, silentLogger());
      const repository = createSessionRepository(db, "isotope_sessions");
      const offset = (await repository.ping()).now - BigInt(Date.now()) * 1000n;
      const spoolDir = join(scratch, "spool", "nested");
      const journal = await openJournal(
        spoolDir,
        repository,
        () => BigInt(Date.now()) * 1000n + offset,
        silentLogger(),
      );
      await journal.append({ sessionId: "c1", dataJson: "{}", metadataJson: undefined, expiresAt: undefined });
      await new Promise((resolve) => setTimeout(resolve, 5));
      // Written in the database after it was spooled: replay keeps the spooled write as a conflict.
      await repository.save({
        sessionId: "c1",
        dataJson: '{"from":"database"}',
        metadataJson: undefined,
        expiry: { kind: "never" },
        expectedVersion: undefined,
      });
      await journal.replayAll();
      await journal.close();

      const { files, dirs } = modes(join(scratch, "spool"));
      expect([...files.keys()].map((path) => path.slice(spoolDir.length + 1)).sort()).toEqual([
        "conflicts.ndjson",
        "journal.ndjson",
      ]);
      expect(notPrivate(files, 0o600)).toEqual([]);
      expect(notPrivate(dirs, 0o700)).toEqual([]);
    } finally {
      await db.close();
    }
  });
});

describe("one process per embedded data directory", () => {
  const lockFile = (dataDir: string) => join(dataDir, "isotope-sessions.lock");

  it("a second open is refused naming this process; a clean close removes the lock", { timeout: 60_000 }, async () => {
    const dataDir = join(scratch, "twice");
    const db = await openEmbedded({ dataDir, port: 4321 }, silentLogger());
    const second = await openEmbedded({ dataDir }, silentLogger()).catch((error: unknown) => error);
    expect(second).toBeInstanceOf(DataDirectoryError);
    expect((second as Error).message).toContain(`in use by process ${process.pid} on ${hostname()} (port 4321)`);
    await db.query("SELECT 1"); // the first is unharmed
    await db.close();
    expect(() => statSync(lockFile(dataDir))).toThrow(/ENOENT/);
  });

  it("takes over a lock whose process is gone; refuses one from another host, saying which file to delete", {
    timeout: 60_000,
  }, async () => {
    const dataDir = join(scratch, "stale");
    const gone = spawnSync(process.execPath, ["-e", ""]).pid as number; // exited: its pid is free
    const stale = { pid: gone, hostname: hostname(), port: 1, started_at: "2020-01-01T00:00:00.000Z" };
    mkdirSync(dataDir);
    writeFileSync(lockFile(dataDir), JSON.stringify(stale));
    const db = await openEmbedded({ dataDir, port: 2 }, silentLogger());
    expect(JSON.parse(readFileSync(lockFile(dataDir), "utf8"))).toMatchObject({ pid: process.pid, port: 2 });
    await db.close();

    writeFileSync(lockFile(dataDir), JSON.stringify({ ...stale, hostname: "elsewhere", pid: 1 }));
    const refused = await openEmbedded({ dataDir }, silentLogger()).catch((error: unknown) => error);
    expect((refused as Error).message).toContain("in use by process 1 on elsewhere (port 1)");
    expect((refused as Error).message).toContain(
      `if it is gone (another machine or container), delete ${lockFile(dataDir)}`,
    );
  });
});
