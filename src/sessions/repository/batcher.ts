/**
 * The coalescing queue group commit (Saves) and load batching (Loads) share: calls that arrive
 * while `maxInFlight` batches are running wait, and each freed slot takes what is queued (up to
 * `maxBatch`) into one batch — one statement, one round trip.
 *
 * - No added latency when the load is light: a call that finds a free slot runs at once, alone.
 *   With `windowMs` > 0 a batch that starts while another is running first waits that long for
 *   company (PostgreSQL's commit_delay, for Saves).
 * - A caller that gives up while queued is dropped from the queue; once its batch is running the
 *   statement is cancelled only if every caller in it gave up — one impatient caller cannot undo
 *   the others' work.
 */
import { DatabaseAbortError } from "../../db/errors.js";

export interface BatcherOptions<I, O> {
  maxBatch: number;
  maxInFlight: number;
  windowMs: number;
  /**
   * Runs one batch; answers in input order. An answer that is an `ItemFailure` fails only its own
   * caller; a throw fails them all.
   */
  run(inputs: I[], signal: AbortSignal): Promise<Array<O | ItemFailure>>;
  /**
   * Whether `input` may join a batch now, given the inputs already taken into it (group commit
   * keeps one Save per session per batch, and a session's later Saves behind its running one).
   * A refused input stays queued in place. Default: always.
   */
  admit?(input: I, taken: readonly I[]): boolean;
  /** Called as a batch starts and after it ends (group commit tracks its sessions in flight). */
  started?(inputs: readonly I[]): void;
  finished?(inputs: readonly I[]): void;
}

/** One input's own failure within a batch that otherwise ran. */
export class ItemFailure {
  constructor(readonly error: unknown) {}
}

interface Pending<I, O> {
  input: I;
  signal: AbortSignal | undefined;
  resolve(output: O): void;
  reject(error: unknown): void;
  onAbort(): void;
}

/** A function that queues `input` into the next batch and resolves with its own answer. */
export function createBatcher<I, O>(options: BatcherOptions<I, O>): (input: I, signal?: AbortSignal) => Promise<O> {
  const queue: Array<Pending<I, O>> = [];
  let inFlight = 0;
  let windowTimer: NodeJS.Timeout | undefined;

  const take = (): Array<Pending<I, O>> => {
    const batch: Array<Pending<I, O>> = [];
    const taken: I[] = [];
    for (let i = 0; i < queue.length && batch.length < options.maxBatch; ) {
      const pending = queue[i] as Pending<I, O>;
      if (options.admit && !options.admit(pending.input, taken)) {
        i++;
        continue;
      }
      taken.push(pending.input);
      batch.push(pending);
      queue.splice(i, 1);
    }
    return batch;
  };

  const run = async (batch: Array<Pending<I, O>>) => {
    const everyoneGone = new AbortController();
    let gone = 0;
    const leave = () => {
      if (++gone === batch.length) everyoneGone.abort();
    };
    for (const pending of batch) {
      pending.signal?.removeEventListener("abort", pending.onAbort);
      if (pending.signal?.aborted) leave();
      else pending.signal?.addEventListener("abort", leave, { once: true });
    }
    const inputs = batch.map((pending) => pending.input);
    options.started?.(inputs);
    inFlight++;
    try {
      const outputs = await options.run(inputs, everyoneGone.signal);
      for (const [i, pending] of batch.entries()) {
        const output = outputs[i] as O | ItemFailure;
        if (output instanceof ItemFailure) pending.reject(output.error);
        else pending.resolve(output);
      }
    } catch (error) {
      for (const pending of batch) pending.reject(error);
    } finally {
      inFlight--;
      for (const pending of batch) pending.signal?.removeEventListener("abort", leave);
      options.finished?.(inputs);
      pump();
    }
  };

  const pump = (windowElapsed = false) => {
    while (inFlight < options.maxInFlight && queue.length > 0 && windowTimer === undefined) {
      if (!windowElapsed && inFlight > 0 && options.windowMs > 0 && queue.length < options.maxBatch) {
        windowTimer = setTimeout(() => {
          windowTimer = undefined;
          pump(true);
        }, options.windowMs);
        return;
      }
      windowElapsed = false;
      const batch = take();
      if (batch.length === 0) return; // nothing may go yet: a finishing batch pumps again
      void run(batch);
    }
  };

  return (input, signal) => {
    if (signal?.aborted) return Promise.reject(new DatabaseAbortError(signal.reason));
    return new Promise<O>((resolve, reject) => {
      const pending: Pending<I, O> = {
        input,
        signal,
        resolve,
        reject,
        onAbort: () => {
          const at = queue.indexOf(pending);
          if (at >= 0) queue.splice(at, 1);
          reject(new DatabaseAbortError(signal?.reason));
        },
      };
      signal?.addEventListener("abort", pending.onAbort, { once: true });
      queue.push(pending);
      pump();
    });
  };
}
