/**
 * The outage spool's journal — the seed's "fall back to file storage" (spool.ts decides what goes
 * in). A spooled write is appended to `journal.ndjson` in the spool directory and acknowledged
 * only after fsync. When the database answers again the journal is replayed in order, one session
 * per transaction. Ordering is by time, as blind Saves are last-writer-wins: a session written in the
 * database after its first spooled write (by another replica, or a caller once the database was
 * back) keeps that newer write, and the spooled ones go to `conflicts.ndjson`, logged and counted —
 * never silently overwritten, never lost.
 *
 * Journal lines: `{"w":{…SpooledWrite}}` for a write, `{"done":seq}` once it is replayed or kept as a
 * conflict. The journal is truncated when nothing is pending. A torn last line (a crash during
 * the write, so never acknowledged) is ignored on start-up.
 *
 * Times are on the database's clock as spool.ts estimates it (`now`), so a skewed service host
 * does not misorder its spooled writes against the database's.
 */
import { closeSync, fsyncSync, mkdirSync, openSync } from "node:fs";
import { type FileHandle, open, readFile } from "node:fs/promises";
import { join } from "node:path";
import type { Logger } from "pino";
import { DatabaseUnavailableError } from "../../db/errors.js";
import type { Micros, SessionRepository, SpooledWrite, SpoolStatus } from "./contract.js";

export interface SpoolJournal {
  readonly directory: string;
  status(): SpoolStatus;
  /** Appends a write and resolves once it is on disk (fsync). */
  append(write: Omit<SpooledWrite, "seq" | "spooledAt">): Promise<SpooledWrite>;
  /**
   * Brings one session up to date before it is read or written through the database: replays its
   * pending writes. Returns the newest of them when the database is unavailable (so it can be
   * served from the journal), undefined when nothing is pending. Other failures are thrown.
   */
  settle(sessionId: string, signal?: AbortSignal): Promise<SpooledWrite | undefined>;
  /** Replays every pending write; stops quietly at the first sign the database is still down. */
  replayAll(): Promise<void>;
  /** The session's writes still to replay, oldest first. */
  pendingOf(sessionId: string): readonly SpooledWrite[];
  close(): Promise<void>;
}

const journalName = "journal.ndjson";
const conflictsName = "conflicts.ndjson";

interface JournalLine {
  w?: Omit<SpooledWrite, "expiresAt" | "spooledAt"> & { expiresAt: string | null; spooledAt: string };
  done?: number;
}

/**
 * Opens (creating if needed) the journal in `directory` and loads what is still pending; replays
 * go to `repository`, and `now` stamps each write with the database's time.
 */
export async function openJournal(
  directory: string,
  repository: SessionRepository,
  now: () => Micros,
  log: Logger,
): Promise<SpoolJournal> {
  // Private: a new directory is 0700 (an existing one keeps its mode: it may be shared), the
  // journal and conflicts files are 0600 whatever the umask — they hold session documents.
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const journalPath = join(directory, journalName);
  const pending = new Map<string, SpooledWrite[]>(); // in first-spooled order (Map keeps insertion order)
  let seq = 0;
  const figures = { spooled: 0, replayed: 0, conflicts: 0 };

  const existing = await readFile(journalPath, "utf8").catch((error: NodeJS.ErrnoException) => {
    if (error.code === "ENOENT") return "";
    throw error;
  });
  const writes = new Map<number, SpooledWrite>();
  const lines = existing.split("\n");
  for (const [i, text] of lines.entries()) {
    if (text === "") continue;
    let line: JournalLine;
    try {
      line = JSON.parse(text) as JournalLine;
    } catch {
      // Only the last line can be torn (the write that was in progress when the process died).
      const last = lines.slice(i + 1).every((rest) => rest === "");
      (last ? log.warn : log.error).call(log, { line: i + 1 }, "spool journal: unreadable line skipped");
      continue;
    }
    if (line.w) {
      const { expiresAt, spooledAt, ...rest } = line.w;
      writes.set(rest.seq, {
        ...rest,
        expiresAt: expiresAt === null ? undefined : BigInt(expiresAt),
        spooledAt: BigInt(spooledAt),
      });
      seq = Math.max(seq, rest.seq);
    } else if (typeof line.done === "number") {
      writes.delete(line.done);
    }
  }
  for (const write of writes.values()) {
    const list = pending.get(write.sessionId) ?? [];
    list.push(write);
    pending.set(write.sessionId, list);
  }
  if (writes.size > 0) log.warn({ pending: writes.size, directory }, "spool: writes from a previous run await replay");

  const journal: FileHandle = await open(journalPath, "a", 0o600);
  await journal.chmod(0o600); // a journal written by an earlier version may be 0644
  // A new file's directory entry must be durable too.
  const dir = openSync(directory, "r");
  fsyncSync(dir);
  closeSync(dir);

  // Group commit: lines queued while a write+fsync runs go out together in the next one.
  let queued: Array<{ text: string; settle: (error?: unknown) => void }> = [];
  let writing: Promise<void> | undefined;
  let compactWanted = writes.size === 0 && existing !== "";
  const pendingCount = () => {
    let n = 0;
    for (const list of pending.values()) n += list.length;
    return n;
  };
  const drain = async () => {
    try {
      for (;;) {
        if (queued.length > 0) {
          const batch = queued;
          queued = [];
          try {
            await journal.write(batch.map((line) => line.text).join(""));
            await journal.datasync();
            for (const line of batch) line.settle();
          } catch (error) {
            for (const line of batch) line.settle(error);
          }
          continue;
        }
        // Appends register in `pending` before they queue, so an empty map means nothing unflushed.
        if (compactWanted && pending.size === 0) {
          compactWanted = false;
          await journal.truncate(0);
          await journal.datasync();
          continue;
        }
        return;
      }
    } finally {
      writing = undefined;
    }
  };
  const writeLines = (text: string) =>
    new Promise<void>((resolve, reject) => {
      queued.push({ text, settle: (error) => (error === undefined ? resolve() : reject(error)) });
      writing ??= drain();
    });
  const compact = () => {
    compactWanted = true;
    writing ??= drain();
  };

  let conflictsFile: FileHandle | undefined;
  const keepConflict = async (list: readonly SpooledWrite[], currentVersion: bigint, lastUpdated: Micros) => {
    conflictsFile ??= await open(join(directory, conflictsName), "a", 0o600);
    await conflictsFile.chmod(0o600);
    const text = list
      .map((write) => `${JSON.stringify({ ...serialize(write), currentVersion: String(currentVersion) })}\n`)
      .join("");
    await conflictsFile.write(text);
    await conflictsFile.datasync();
    figures.conflicts += list.length;
    log.warn(
      {
        session_id: list[0]?.sessionId,
        spooled_writes: list.length,
        current_version: String(currentVersion),
        database_last_updated_us: String(lastUpdated),
        conflicts_file: join(directory, conflictsName),
      },
      "spool: session changed in the database after it was spooled; spooled writes kept in the conflicts file",
    );
  };

  // Replays are serialized: one session at a time, each once.
  let replaying: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const next = replaying.then(fn);
    replaying = next.catch(() => {});
    return next;
  };
  const replaySession = async (sessionId: string, signal?: AbortSignal) => {
    const list = pending.get(sessionId);
    if (!list || list.length === 0) return;
    const batch = [...list];
    const result = await repository.replaySpooled(sessionId, batch, signal);
    if (result.kind === "conflict") await keepConflict(batch, result.currentVersion, result.lastUpdated);
    else figures.replayed += batch.length;
    await writeLines(batch.map((write) => `${JSON.stringify({ done: write.seq })}\n`).join(""));
    const rest = (pending.get(sessionId) ?? []).filter((write) => !batch.includes(write));
    if (rest.length > 0) pending.set(sessionId, rest);
    else pending.delete(sessionId);
    if (result.kind === "applied") {
      log.info({ session_id: sessionId, writes: batch.length, version: String(result.version) }, "spool: replayed");
    }
    if (pending.size === 0) compact();
  };

  return {
    directory,
    status: () => ({ pending: pendingCount(), ...figures }),

    async append(input) {
      const write: SpooledWrite = { ...input, seq: ++seq, spooledAt: now() };
      const list = pending.get(write.sessionId) ?? [];
      list.push(write);
      pending.set(write.sessionId, list);
      try {
        await writeLines(`${JSON.stringify({ w: serialize(write) })}\n`);
      } catch (error) {
        // Not on disk, so not acknowledged: forget it.
        const rest = (pending.get(write.sessionId) ?? []).filter((w) => w !== write);
        if (rest.length > 0) pending.set(write.sessionId, rest);
        else pending.delete(write.sessionId);
        throw error;
      }
      figures.spooled++;
      log.warn({ session_id: write.sessionId, seq: write.seq }, "spool: database unavailable, write spooled");
      return write;
    },

    async settle(sessionId, signal) {
      if (!pending.has(sessionId)) return undefined;
      try {
        await exclusive(() => replaySession(sessionId, signal));
        return undefined;
      } catch (error) {
        const list = pending.get(sessionId);
        if (error instanceof DatabaseUnavailableError && list) return list[list.length - 1];
        throw error;
      }
    },

    replayAll() {
      return exclusive(async () => {
        for (const sessionId of [...pending.keys()]) {
          try {
            await replaySession(sessionId);
          } catch (error) {
            if (error instanceof DatabaseUnavailableError) return;
            log.error({ err: error, session_id: sessionId }, "spool: replay failed; will retry");
            return;
          }
        }
      });
    },

    pendingOf: (sessionId) => pending.get(sessionId) ?? [],

    async close() {
      await replaying;
      while (writing) await writing;
      await journal.close();
      await conflictsFile?.close();
    },
  };
}

function serialize(write: SpooledWrite) {
  return {
    ...write,
    expiresAt: write.expiresAt === undefined ? null : String(write.expiresAt),
    spooledAt: String(write.spooledAt),
  };
}
