/**
 * How `npm run bench` prints what it measured: one line per run as it finishes, then tables of
 * every path against the limit (throughput ratio, c=1 p50 difference) and of CPU per operation.
 */
import type { PostgresCpu } from "./cpu.js";
import type { PathName } from "./paths.js";
import type { Figures, Workload } from "./workload.js";

export interface Run {
  path: PathName;
  workload: Workload;
  concurrency: number;
  figures: Figures;
  /** CPU seconds spent in the measured window by the driver, every product server running, and PostgreSQL. */
  cpu: { client: number; server: number | undefined; postgres: number };
  /** What PostgreSQL's CPU was counted over. */
  postgres: Omit<PostgresCpu, "seconds">;
}

/** CPU microseconds per operation, by process and in all. */
export function cpuPerOp(run: Run) {
  const perOp = (seconds: number | undefined) =>
    seconds === undefined ? undefined : (seconds * 1e6) / Math.max(1, run.figures.ops);
  const { client, server, postgres } = run.cpu;
  return {
    client: perOp(client),
    server: perOp(server),
    postgres: perOp(postgres),
    total: perOp(client + (server ?? 0) + postgres) as number,
  };
}

// JSON carries NaN (no operation finished) as null.
const fixed = (n: number | null | undefined, digits = 2) => (n == null ? "—" : n.toFixed(digits));
const count = (n: number) => Math.round(n).toLocaleString("en-US");
const runName = (workload: Workload, concurrency: number) => `${workload}/${concurrency}`;

export function runLine(run: Run): string {
  const { figures } = run;
  const cpu = cpuPerOp(run);
  return [
    `${runName(run.workload, run.concurrency).padEnd(8)} ${run.path.padEnd(15)}`,
    `${count(figures.opsPerSecond).padStart(6)} ops/s`,
    `p50 ${fixed(figures.p50Ms).padStart(6)} ms  p99 ${fixed(figures.p99Ms).padStart(6)} ms`,
    `CPU µs/op client ${fixed(cpu.client, 0)} · server ${fixed(cpu.server, 0)} · postgres ${fixed(cpu.postgres, 0)} · total ${fixed(cpu.total, 0)}`,
    figures.errors ? `errors ${figures.errors}` : "",
    run.postgres.ended
      ? `(${run.postgres.ended} of ${run.postgres.processes} postgres processes ended in the window)`
      : "",
  ]
    .filter(Boolean)
    .join("  ");
}

/** The tables of a whole bench: every path in `pathOrder`, every run of `plan`, against the limit. */
export function tables(runs: Run[], plan: ReadonlyArray<readonly [Workload, number]>, pathOrder: PathName[]): string {
  const find = (path: PathName, workload: Workload, concurrency: number) =>
    runs.find((r) => r.path === path && r.workload === workload && r.concurrency === concurrency);
  const row = (cells: string[]) => `| ${cells.join(" | ")} |`;
  const rule = (columns: number) => row(Array.from({ length: columns }, () => "---"));

  const ratioHeader = ["path", ...plan.flatMap(([w, c]) => [`${runName(w, c)} ops/s`, ...(c === 1 ? ["p50"] : [])])];
  const ratioRows = pathOrder.map((path) =>
    row([
      path,
      ...plan.flatMap(([workload, concurrency]) => {
        const run = find(path, workload, concurrency);
        const limit = find("limit", workload, concurrency);
        if (!run) return concurrency === 1 ? ["—", "—"] : ["—"];
        const ops = count(run.figures.opsPerSecond);
        const ratio =
          limit && path !== "limit" ? ` (${fixed(run.figures.opsPerSecond / limit.figures.opsPerSecond)}×)` : "";
        if (concurrency !== 1) return [`${ops}${ratio}`];
        const p50 = `${fixed(run.figures.p50Ms)} ms`;
        const delta =
          limit && path !== "limit" && run.figures.p50Ms != null && limit.figures.p50Ms != null
            ? ` (${run.figures.p50Ms >= limit.figures.p50Ms ? "+" : "−"}${fixed(Math.abs(run.figures.p50Ms - limit.figures.p50Ms))} ms)`
            : "";
        return [`${ops}${ratio}`, `${p50}${delta}`];
      }),
    ]),
  );

  const cpuHeader = ["path", ...plan.map(([w, c]) => runName(w, c))];
  const cpuRows = pathOrder.map((path) =>
    row([
      path,
      ...plan.map(([workload, concurrency]) => {
        const run = find(path, workload, concurrency);
        if (!run) return "—";
        const cpu = cpuPerOp(run);
        return `${fixed(cpu.client, 0)} · ${fixed(cpu.server, 0)} · ${fixed(cpu.postgres, 0)} = **${fixed(cpu.total, 0)}**`;
      }),
    ]),
  );

  return [
    "Against the limit (same run, same data): ops/s (ratio to the limit's); at c=1 also p50 (difference to the limit's).",
    "",
    row(ratioHeader),
    rule(ratioHeader.length),
    ...ratioRows,
    "",
    "CPU per operation, µs: client · server · postgres = total (all processes).",
    "",
    row(cpuHeader),
    rule(cpuHeader.length),
    ...cpuRows,
  ].join("\n");
}
