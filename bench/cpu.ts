/**
 * CPU time of the processes a bench run involves, read from /proc: one process by pid, and the
 * PostgreSQL server's (processes whose comm is `postgres`: the postmaster, its auxiliary processes
 * and the backends of the bench's databases).
 */
import { readdirSync, readFileSync } from "node:fs";

const ticksPerSecond = 100; // USER_HZ

/** utime + stime of `pid` in clock ticks, and its comm; undefined once it is gone. */
function stat(pid: number): { comm: string; ticks: number } | undefined {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, "utf8");
  } catch {
    return undefined;
  }
  // "pid (comm) state ppid …": comm may hold spaces and parentheses, so split at the last ")".
  const close = text.lastIndexOf(")");
  const fields = text.slice(close + 2).split(" ");
  return { comm: text.slice(text.indexOf("(") + 1, close), ticks: Number(fields[11]) + Number(fields[12]) };
}

/** CPU seconds (user + system) a process has used so far. */
export function cpuSeconds(pid: number): number {
  return (stat(pid)?.ticks ?? Number.NaN) / ticksPerSecond;
}

/** CPU ticks so far of every process named `postgres`, by pid. */
function postgresTicks(): Map<number, number> {
  const ticks = new Map<number, number>();
  for (const entry of readdirSync("/proc")) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const process = stat(pid);
    if (process?.comm === "postgres") ticks.set(pid, process.ticks);
  }
  return ticks;
}

/**
 * The database a PostgreSQL process works in, from the title it shows: a backend's is
 * `postgres: [cluster: ]user database host(port) activity`, an autovacuum worker's ends in
 * `autovacuum worker database`. Undefined for the server's own processes (checkpointer, WAL
 * writer…) and for a backend not yet past its start-up.
 */
function databaseOf(pid: number): string | undefined {
  let title: string;
  try {
    title = readFileSync(`/proc/${pid}/cmdline`, "utf8").replaceAll("\0", " ");
  } catch {
    return undefined;
  }
  return title.match(/ (\S+) (?:\S+\(\d+\)|\[local\])/)?.[1] ?? title.match(/autovacuum worker (\S+)/)?.[1];
}

export interface PostgresCpu {
  seconds: number;
  /** Processes counted; those that ended in the window count up to their last sample. */
  processes: number;
  ended: number;
  /** Processes left out: backends and autovacuum workers of other databases. */
  otherDatabases: number;
}

/**
 * Starts counting PostgreSQL's CPU in `databases`; `stop()` gives the seconds since. Counted: the
 * server's own processes (they serve every database; the machine is shared, so some of their
 * work is other people's) and the backends and autovacuum workers of `databases`. A process that
 * starts in between counts whole. One that ends in between counts up to the last sample before
 * its end, so up to `sampleMs` of its CPU is lost.
 */
export function watchPostgresCpu(databases: string[], sampleMs = 500): { stop(): PostgresCpu } {
  const last = new Map<number, number>();
  const databaseOfPid = new Map<number, string>();
  const sample = () => {
    const now = postgresTicks();
    for (const [pid, ticks] of now) {
      last.set(pid, ticks);
      const database = databaseOfPid.get(pid) ?? databaseOf(pid);
      if (database) databaseOfPid.set(pid, database);
    }
    return now;
  };
  const first = sample();
  const timer = setInterval(sample, sampleMs).unref();
  return {
    stop() {
      clearInterval(timer);
      const atClose = sample();
      let ticks = 0;
      let processes = 0;
      let ended = 0;
      for (const [pid, now] of last) {
        const database = databaseOfPid.get(pid);
        if (database && !databases.includes(database)) continue;
        ticks += now - (first.get(pid) ?? 0);
        processes++;
        if (!atClose.has(pid)) ended++;
      }
      return { seconds: ticks / ticksPerSecond, processes, ended, otherDatabases: last.size - processes };
    },
  };
}

/**
 * closedLoop's window over one server process and PostgreSQL (`databases`): once it has closed,
 * `used` holds the CPU seconds each spent while it was open.
 */
export function cpuWindow(pid: number, databases: string[]) {
  let atOpen = 0;
  let postgres: { stop(): PostgresCpu } | undefined;
  const used = { server: 0, postgres: Number.NaN };
  return {
    used,
    opened() {
      atOpen = cpuSeconds(pid);
      postgres = watchPostgresCpu(databases);
    },
    closed() {
      used.server = cpuSeconds(pid) - atOpen;
      used.postgres = postgres?.stop().seconds ?? Number.NaN;
    },
  };
}
