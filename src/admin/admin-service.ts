/**
 * AdminService: what the console asks beside SessionService — who the caller is and what it may
 * call (so the page offers only that), the scheduled maintenance's settings and last run, and the
 * sessions by state over time from the samples table. Reads only; every role may call them.
 */
import { durationFromMs, durationMs, timestampFromDate } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, type ServiceImpl } from "@connectrpc/connect";
import { AdminService } from "../../gen/isotope/admin/v1/admin_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { AuthConfig, CleanupConfig } from "../config/load-config.js";
import type { Maintenance } from "../maintenance/contract.js";
import { accessTables, callerKey } from "../rpc/interceptors/auth.js";

export interface AdminDeps {
  /** Read from the database on every call: the last run and the samples are any replica's. */
  maintenance: Pick<Maintenance, "lastCleanup" | "latestSample" | "trend">;
  /** This replica's schedule, as configured. */
  cleanup: Pick<CleanupConfig, "intervalMs" | "hardDelete" | "sampleRetentionMs">;
  auth: Pick<AuthConfig, "tokens">;
}

const minuteMs = 60_000;
const dayMs = 24 * 60 * minuteMs;
/** The longest range a chart asks for, and the most points one answer holds. */
const maxRangeMs = 30 * dayMs;
const maxPoints = 1000;

export function createAdminService(deps: AdminDeps): ServiceImpl<typeof AdminService> {
  const { maintenance, cleanup } = deps;
  const everyMethod = [SessionService, AdminService].flatMap((service) =>
    service.methods.map((method) => `${service.typeName}/${method.name}`),
  );
  return {
    whoAmI(_req, ctx) {
      const caller = ctx.values.get(callerKey);
      // No caller with access control on cannot happen: the interceptor refused the call first.
      if (caller === undefined) return { accessControl: deps.auth.tokens.length > 0, methods: everyMethod };
      const methods = [...accessTables].flatMap(([service, table]) =>
        [...table[caller.role]].map((method) => `${service}/${method}`),
      );
      return { accessControl: true, name: caller.name, role: caller.role, methods };
    },

    async maintenanceStatus(_req, ctx) {
      const [last, sample] = await Promise.all([
        maintenance.lastCleanup(ctx.signal),
        maintenance.latestSample(ctx.signal),
      ]);
      return {
        interval: durationFromMs(cleanup.intervalMs),
        hardDelete: cleanup.hardDelete,
        sampleRetention: durationFromMs(cleanup.sampleRetentionMs),
        lastCleanup:
          last === undefined
            ? undefined
            : {
                replica: last.replica,
                startedAt: timestampFromDate(last.startedAt),
                duration: durationFromMs(last.durationMs),
                expiredCount: BigInt(last.expired),
                purgedCount: BigInt(last.purged),
                error: last.error ?? "",
              },
        latestSampleAt: sample === undefined ? undefined : timestampFromDate(sample.takenAt),
      };
    },

    async trends(req, ctx) {
      const rangeMs = req.range === undefined ? dayMs : durationMs(req.range);
      if (!(rangeMs >= minuteMs && rangeMs <= maxRangeMs)) {
        throw new ConnectError("range must be between 1 minute and 30 days", Code.InvalidArgument);
      }
      const leastStepMs = Math.max(1000, Math.ceil(rangeMs / maxPoints));
      const stepMs = req.step === undefined ? Math.max(leastStepMs, Math.round(rangeMs / 120)) : durationMs(req.step);
      if (!(stepMs >= leastStepMs && stepMs <= rangeMs)) {
        throw new ConnectError(
          `step must be between ${leastStepMs} ms (range / ${maxPoints}, at least 1 s) and the range`,
          Code.InvalidArgument,
        );
      }
      const trend = await maintenance.trend(rangeMs, Math.round(stepMs), ctx.signal);
      return {
        points: trend.samples.map((sample) => ({
          takenAt: timestampFromDate(sample.takenAt),
          active: BigInt(sample.active),
          inactive: BigInt(sample.inactive),
          expired: BigInt(sample.expired),
          totalMessages: BigInt(sample.totalMessages),
          totalDataBytes: BigInt(sample.totalDataBytes),
        })),
        range: durationFromMs(rangeMs),
        step: durationFromMs(Math.round(stepMs)),
        until: timestampFromDate(trend.until),
      };
    },
  };
}
