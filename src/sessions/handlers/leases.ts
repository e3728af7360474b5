/**
 * The lease RPCs: AcquireLease, RenewLease, ReleaseLease (repository/leases.ts). Expiry is the
 * database's clock; a lease someone else holds is FAILED_PRECONDITION naming them and its expiry.
 */
import { create } from "@bufbuild/protobuf";
import type { Duration } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { LeaseSchema, type SessionService } from "../../../gen/isotope/session/v1/session_pb.js";
import { toTimestamp } from "../convert.js";
import type { Lease } from "../repository/contract.js";
import * as validate from "../validate.js";
import type { HandlerDeps } from "./deps.js";

type Leases = Pick<ServiceImpl<typeof SessionService>, "acquireLease" | "renewLease" | "releaseLease">;

const maxTtlMicros = 24n * 60n * 60n * 1_000_000n;

const toLease = (lease: Lease) =>
  create(LeaseSchema, {
    sessionId: lease.sessionId,
    holder: lease.holder,
    fencingToken: lease.token,
    expiresAt: toTimestamp(lease.expiresAt),
  });

/** Who holds a lease, for an error message. */
export const heldBy = (lease: Lease) =>
  `held by "${lease.holder}" (fencing token ${lease.token}) until ${new Date(Number(lease.expiresAt / 1000n)).toISOString()}`;

function ttl(value: Duration | undefined): bigint {
  if (value === undefined) throw validate.invalidArgument("ttl", "is required");
  const micros = validate.positiveDuration(value, "ttl");
  if (micros > maxTtlMicros) throw validate.invalidArgument("ttl", "must be at most 24 hours");
  return micros;
}

function fencingToken(value: bigint): bigint {
  if (value < 1n) throw validate.invalidArgument("fencing_token", "must be a token AcquireLease returned (1 or more)");
  return value;
}

export function createLeaseHandlers({ repository }: HandlerDeps): Leases {
  return {
    async acquireLease(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const holder = validate.sessionId(req.holder, "holder");
      const result = await repository.acquireLease(sessionId, holder, ttl(req.ttl), ctx.signal);
      if (result.kind !== "held") {
        const current = result.current;
        throw new ConnectError(
          `session "${sessionId}": lease ${current ? heldBy(current) : "not available"}`,
          Code.FailedPrecondition,
        );
      }
      return { lease: toLease(result.lease) };
    },

    async renewLease(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const holder = validate.sessionId(req.holder, "holder");
      const token = fencingToken(req.fencingToken);
      const result = await repository.renewLease(sessionId, holder, token, ttl(req.ttl), ctx.signal);
      if (result.kind !== "held") {
        const current = result.current;
        throw new ConnectError(
          `session "${sessionId}": "${holder}" no longer holds the lease with fencing token ${token}; ${
            current ? `it is ${heldBy(current)}` : "nobody holds it (acquire it again)"
          }`,
          Code.FailedPrecondition,
        );
      }
      return { lease: toLease(result.lease) };
    },

    async releaseLease(req, ctx) {
      const sessionId = validate.sessionId(req.sessionId);
      const holder = validate.sessionId(req.holder, "holder");
      const token = fencingToken(req.fencingToken);
      return { released: await repository.releaseLease(sessionId, holder, token, ctx.signal) };
    },
  };
}

/** A write's optional fencing_token, checked for shape (the repository checks it against the lease). */
export const optionalFencingToken = (value: bigint | undefined) =>
  value === undefined ? undefined : fencingToken(value);
