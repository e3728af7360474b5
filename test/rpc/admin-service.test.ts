// AdminService through the routes and interceptors, in memory, on every backend: who a token is
// and what it may call (everything, with access control off), the scheduled cleanup's settings and
// last run as recorded in the database, and the samples as a downsampled trend — a range or step
// out of bounds refused with INVALID_ARGUMENT.
import { durationFromMs, durationMs, type Timestamp, timestampDate } from "@bufbuild/protobuf/wkt";
import { Code, createClient } from "@connectrpc/connect";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/isotope/admin/v1/admin_pb.js";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import { jobRow } from "../../src/maintenance/job.js";
import { failureOf } from "../support/calls.js";
import { consoleTokens } from "../support/console.js";
import { backends } from "../support/databases.js";
import { type InMemoryServer, startInMemory, testCleanup } from "../support/server.js";

const { tokens, auth } = consoleTokens();
const as = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });
const names = (service: typeof SessionService | typeof AdminService, only?: string[]) =>
  service.methods.filter((m) => only?.includes(m.name) ?? true).map((m) => `${service.typeName}/${m.name}`);

describe.each(backends())("AdminService on $name", (backend) => {
  let open: InMemoryServer;
  let guarded: InMemoryServer;
  beforeAll(async () => {
    open = await startInMemory(backend, { cleanup: { ...testCleanup, intervalMs: 0, sampleRetentionMs: 86_400_000 } });
    guarded = await startInMemory(backend, { auth });
  });
  afterAll(async () => {
    await open?.stop();
    await guarded?.stop();
  });

  it("WhoAmI: everything with access control off; a token's name, role and exactly its methods", async () => {
    const anyone = await createClient(AdminService, open.transport).whoAmI({});
    expect(anyone).toMatchObject({ accessControl: false, name: "", role: "" });
    expect(anyone.methods.sort()).toEqual([...names(SessionService), ...names(AdminService)].sort());

    const client = createClient(AdminService, guarded.transport);
    const reader = await client.whoAmI({}, as(tokens.read));
    expect(reader).toMatchObject({ accessControl: true, name: "read-op", role: "read" });
    expect(reader.methods.sort()).toEqual(
      [
        ...names(SessionService, [
          "Load",
          "List",
          "Statistics",
          "Restore",
          "RestoreStream",
          "CheckConnection",
          "Watch",
        ]),
        ...names(AdminService),
      ].sort(),
    );
    expect((await client.whoAmI({}, as(tokens.admin))).methods).toContain(`${SessionService.typeName}/Cleanup`);
    expect((await failureOf(client.whoAmI({}))).code).toBe(Code.Unauthenticated);
  });

  it("MaintenanceStatus: this replica's schedule, and the last run by any replica once there is one", async () => {
    const client = createClient(AdminService, open.transport);
    const before = await client.maintenanceStatus({});
    expect(durationMs(before.interval ?? durationFromMs(1))).toBe(0);
    expect(durationMs(before.sampleRetention ?? durationFromMs(0))).toBe(86_400_000);
    expect(before.lastCleanup).toBeUndefined();
    expect(before.latestSampleAt).toBeUndefined();

    const job = jobRow(open.db, open.table, "cleanup");
    const claim = await job.claim("pod-b", 60_000, 60_000);
    await job.finish(claim.run as bigint, claim.claimedAt, {
      replica: "pod-b",
      startedAt: new Date(),
      durationMs: 1500,
      expired: 12,
      purged: 3,
      error: "lease lost",
    });
    await open.db.query(
      `INSERT INTO ${open.table}_samples (taken_at, active, inactive, expired, total_messages, total_data_bytes)
       VALUES (now() - interval '5 minutes', 10, 2, 1, 40, 4096)`,
    );
    const after = await client.maintenanceStatus({});
    expect(after.lastCleanup).toMatchObject({
      replica: "pod-b",
      expiredCount: 12n,
      purgedCount: 3n,
      error: "lease lost",
    });
    expect(durationMs(after.lastCleanup?.duration ?? durationFromMs(0))).toBe(1500);
    const startedAt = timestampDate(after.lastCleanup?.startedAt as Timestamp);
    expect(Math.abs(startedAt.getTime() - Date.now())).toBeLessThan(60_000);
    expect(after.latestSampleAt).toBeDefined();
  });

  it("Trends: 24 h in steps of 12 min by default, the samples' figures, and bounds on range and step", async () => {
    const client = createClient(AdminService, open.transport);
    const trend = await client.trends({});
    expect(durationMs(trend.range ?? durationFromMs(0))).toBe(86_400_000);
    expect(durationMs(trend.step ?? durationFromMs(0))).toBe(12 * 60_000);
    expect(trend.points.at(-1)).toMatchObject({
      active: 10n,
      inactive: 2n,
      expired: 1n,
      totalMessages: 40n,
      totalDataBytes: 4096n,
    });

    const refused = async (range: number, step?: number) =>
      failureOf(
        client.trends({ range: durationFromMs(range), step: step === undefined ? undefined : durationFromMs(step) }),
      );
    for (const [range, step] of [
      [59_000],
      [31 * 86_400_000],
      [86_400_000, 60_000],
      [3_600_000, 500],
      [3_600_000, 7_200_000],
    ]) {
      const error = await refused(range as number, step);
      expect(error.code).toBe(Code.InvalidArgument);
      expect(error.rawMessage).toMatch(/^(range|step) must be between/);
    }
  });
});
