/**
 * What the layers of a repository stack report of themselves (the hot cache, the outage spool), for
 * CheckConnection and the metrics. Part of the repository's contract (contract.ts re-exports it).
 */

export interface CacheStatus {
  enabled: boolean;
  /** Every hit is proven current in the database first, so this is always true. */
  coherent: boolean;
  maxBytes: number;
  hits: number;
  misses: number;
  entries: number;
  bytes: number;
}

export interface SpoolStatus {
  pending: number;
  spooled: number;
  replayed: number;
  conflicts: number;
}

/** What each layer of a stack reports; a layer that is not in the stack reports nothing. */
export interface StackStatus {
  cache?: CacheStatus;
  spool?: SpoolStatus;
}
