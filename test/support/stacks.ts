// Every composition of the repository stack the contract suite runs over: the SQL repository
// alone, and with each layer production puts on it — group commit, the hot cache, the outage
// spool — built by the same function as production's (src/sessions/repository/stack.ts).
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Db } from "../../src/db/database.js";
import type { SessionRepository } from "../../src/sessions/repository/contract.js";
import { createRepositoryStack, type StackOptions } from "../../src/sessions/repository/stack.js";
import { silentLogger } from "./databases.js";

export interface Stack {
  name: string;
  /** The stack over `db`; `close()` also removes what it left on disk. */
  open(db: Db, table: string): Promise<SessionRepository>;
}

const stack = (name: string, options: (dir: () => string) => Omit<StackOptions, "table">): Stack => ({
  name,
  async open(db, table) {
    let dir: string | undefined;
    const repository = await createRepositoryStack(
      db,
      { table, ...options(() => (dir ??= mkdtempSync(join(tmpdir(), "isotope-stack-")))) },
      silentLogger(),
    );
    return {
      ...repository,
      async close() {
        await repository.close();
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      },
    };
  },
});

export const stacks: Stack[] = [
  stack("plain", () => ({})),
  stack("grouped", () => ({ groupCommit: { maxBatch: 64, windowMs: 0 } })),
  stack("cached", () => ({ cacheBytes: 8 * 1024 * 1024 })),
  stack("spooled", (dir) => ({
    groupCommit: { maxBatch: 64, windowMs: 0 },
    cacheBytes: 8 * 1024 * 1024,
    spoolDir: join(dir(), "spool"),
  })),
];
