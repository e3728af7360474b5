/**
 * CPU time of the processes a bench run involves, read from /proc: one process by pid, and every
 * PostgreSQL process on the machine (comm `postgres`: the postmaster, its auxiliary processes and
 * every backend, whoever they serve).
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

export interface PostgresCpu {
  seconds: number;
  /** Processes seen in the window; those that ended in it count up to their last sample. */
  processes: number;
  ended: number;
}

/**
 * Starts counting PostgreSQL's CPU; `stop()` gives the seconds since. A process that starts in
 * between counts whole. One that ends in between counts up to the last sample before its end, so
 * up to `sampleMs` of its CPU is lost (a backend another client's pool closes, say).
 */
export function watchPostgresCpu(sampleMs = 250): { stop(): PostgresCpu } {
  const first = postgresTicks();
  const last = new Map(first);
  const sample = () => {
    for (const [pid, ticks] of postgresTicks()) last.set(pid, ticks);
  };
  const timer = setInterval(sample, sampleMs).unref();
  return {
    stop() {
      clearInterval(timer);
      const atClose = postgresTicks();
      for (const [pid, ticks] of atClose) last.set(pid, ticks);
      let ticks = 0;
      for (const [pid, now] of last) ticks += now - (first.get(pid) ?? 0);
      return { seconds: ticks / ticksPerSecond, processes: last.size, ended: last.size - atClose.size };
    },
  };
}
