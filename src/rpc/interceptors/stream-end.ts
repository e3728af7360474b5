/**
 * One helper the interceptors share: wrap a response stream so something runs when it ends,
 * however it ends — the log line of a streaming RPC, the drain's in-flight count.
 */
/** Passes `stream` through and calls `onEnd` exactly once, however it ends (error, return, cancel). */
export async function* afterStream<T>(stream: AsyncIterable<T>, onEnd: (error: unknown) => void): AsyncIterable<T> {
  let error: unknown;
  try {
    yield* stream;
  } catch (caught) {
    error = caught ?? new Error("stream failed");
    throw caught;
  } finally {
    onEnd(error);
  }
}
