/**
 * What every bench path shares: the data set (sessions of ~4.5 KB, the size engines send), the
 * closed-loop runner (N requests in flight, each starting when one finishes) and the figures.
 */

export type Operation = "save" | "load";
export type Workload = "save" | "load" | "mixed";

export interface Figures {
  ops: number;
  seconds: number;
  opsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  /** CPU seconds (user + system, all threads) the driving process spent in the measured window. */
  clientCpuSeconds: number;
  errors: number;
}

/** The session document for (id, generation): 12 messages, ~4.5 KB of JSON. */
export function sessionData(index: number, generation: number) {
  const messages = Array.from({ length: 12 }, (_, m) => ({
    role: m % 2 === 0 ? "user" : "assistant",
    content: `session ${index} turn ${m} generation ${generation} `.padEnd(340, "lorem ipsum dolor sit amet "),
    ts: 1_700_000_000 + m,
  }));
  return { messages, files: {}, tasks: [], context: { generation } };
}

let generation = 0;

/** The next document a Save of session `index` writes: each Save of a run writes a new generation. */
export const nextDocument = (index: number) => sessionData(index, ++generation);

export const sessionId = (index: number) => `bench-${String(index).padStart(6, "0")}`;

export const metadataFor = (index: number) => ({ user_id: `user-${index % 100}`, name: `session ${index}` });

/** The operation a workload issues next: mixed is 80 % Load, 20 % Save. */
export function nextOperation(workload: Workload): Operation {
  if (workload === "mixed") return Math.random() < 0.8 ? "load" : "save";
  return workload;
}

/**
 * Runs `call` with `concurrency` calls in flight: `warmupMs` unmeasured, then `durationMs`
 * measured. Latencies are kept whole (a few hundred thousand numbers at most), so percentiles are
 * exact.
 */
export async function closedLoop(
  call: (operation: Operation, index: number) => Promise<unknown>,
  options: { workload: Workload; concurrency: number; warmupMs: number; durationMs: number; sessions: number },
  window: { opened(): void; closed(): void } = { opened() {}, closed() {} },
): Promise<Figures> {
  const latencies: number[] = [];
  let errors = 0;
  let measuring = false;
  let stopped = false;

  const worker = async () => {
    while (!stopped) {
      const operation = nextOperation(options.workload);
      const index = Math.floor(Math.random() * options.sessions);
      const t0 = performance.now();
      try {
        await call(operation, index);
        if (measuring) latencies.push(performance.now() - t0);
      } catch {
        if (measuring) errors++;
      }
    }
  };
  const workers = Array.from({ length: options.concurrency }, worker);
  await sleep(options.warmupMs);
  window.opened();
  const cpuAtStart = process.cpuUsage();
  const started = performance.now();
  measuring = true;
  await sleep(options.durationMs);
  measuring = false;
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuAtStart);
  window.closed();
  stopped = true;
  await Promise.all(workers);

  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))] ?? Number.NaN;
  return {
    ops: latencies.length,
    seconds,
    opsPerSecond: latencies.length / seconds,
    p50Ms: at(0.5),
    p99Ms: at(0.99),
    clientCpuSeconds: (cpu.user + cpu.system) / 1e6,
    errors,
  };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
