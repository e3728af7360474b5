/**
 * What may keep a write from applying, beside its own outcome: its idempotency key (a request_id
 * seen before: request-keys.ts) and its fencing token (a lease since taken over: leases.ts). Part
 * of the repository's contract (contract.ts re-exports all of it).
 */
import type { Micros } from "./contract.js";

/**
 * A write's idempotency key (request_id): the write and the key's record commit together, so a
 * repeat within the window applies nothing and gets the first result (request-keys.ts).
 */
export interface RequestKey {
  id: string;
  /** The RPC, for the record ("Save", "Append", ...). */
  method: string;
  /** A hash of the whole request but its key: the same key with another request is refused. */
  hash: string;
}

export interface Lease {
  sessionId: string;
  holder: string;
  token: bigint;
  expiresAt: Micros;
}

export type LeaseResult =
  | { kind: "held"; lease: Lease }
  /** Another holder's unexpired lease (acquire). */
  | { kind: "taken"; current: Lease }
  /** The caller no longer holds it (renew); `current` is the live lease, if anyone's. */
  | { kind: "lost"; current: Lease | undefined };

/** A request_id already used, within the window, by a different request: nothing was written. */
export class RequestIdReusedError extends Error {
  constructor(readonly requestId: string) {
    super(`request_id "${requestId}" was already used for a different request`);
  }
}

/** A write whose fencing token is not the session's newest: nothing was written. */
export class FencedOffError extends Error {
  constructor(
    readonly sessionId: string,
    readonly token: bigint,
    readonly newest: bigint,
    /** The live lease, when someone holds one. */
    readonly current: Lease | undefined,
  ) {
    const holder = current ? `held by "${current.holder}"` : "not held";
    super(
      token < newest
        ? `session "${sessionId}": fencing token ${token} is older than the session's newest (${newest}), ${holder}`
        : `session "${sessionId}": fencing token ${token} was never issued (newest is ${newest}), ${holder}`,
    );
  }
}
