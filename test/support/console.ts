// The admin console in a real browser: Debian's Chromium driven by playwright-core, against a
// service on a real socket with bearer tokens of every role, over sessions, samples and a recorded
// scheduled cleanup written the way the service writes them. Used by test/e2e/admin-console.test.ts
// and scripts/console-screenshots.ts.
import { createHash, randomBytes } from "node:crypto";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import { type Browser, chromium } from "playwright-core";
import { SessionService } from "../../gen/isotope/session/v1/session_pb.js";
import type { AuthConfig, Role } from "../../src/config/load-config.js";
import type { Db } from "../../src/db/database.js";
import { jobRow } from "../../src/maintenance/job.js";

/** Debian's chromium, with the flags that work here as root (../shared/notes/operations.md). */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

/** A token of each role, and the access control that knows them (by hash). */
export function consoleTokens(): { tokens: Record<Role, string>; auth: AuthConfig } {
  const tokens: Record<Role, string> = {
    read: `r-${randomBytes(18).toString("base64url")}`,
    write: `w-${randomBytes(18).toString("base64url")}`,
    admin: `a-${randomBytes(18).toString("base64url")}`,
  };
  const sha256 = (token: string) => createHash("sha256").update(token).digest("hex");
  return {
    tokens,
    auth: {
      tokens: (Object.keys(tokens) as Role[]).map((role) => ({
        name: `${role}-op`,
        role,
        sha256: sha256(tokens[role]),
      })),
      protectHealth: false,
      protectReflection: false,
    },
  };
}

export function sessionClient(url: string, token: string) {
  const bearer: Interceptor = (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
  return createClient(
    SessionService,
    createConnectTransport({ baseUrl: url, httpVersion: "1.1", interceptors: [bearer] }),
  );
}

export interface Fixture {
  /** Every session saved, oldest first. */
  ids: string[];
  /** The session with many messages. */
  talkative: string;
  messages: number;
}

/**
 * `count` sessions saved one after another (so "newest first" has one answer): user_id alternates
 * alice / bob / carol, team red / blue; one holds `messages` messages. Then `expired` of the oldest
 * are made expired in the database, as time would.
 */
export async function seedSessions(
  url: string,
  token: string,
  db: Db,
  table: string,
  options: { count: number; messages: number; expired: number; prefix?: string },
): Promise<Fixture> {
  const client = sessionClient(url, token);
  const users = ["alice", "bob", "carol"];
  const ids: string[] = [];
  const prefix = options.prefix ?? "chat";
  for (let i = 0; i < options.count; i++) {
    const sessionId = `${prefix}-${String(i).padStart(3, "0")}`;
    ids.push(sessionId);
    await client.save({
      sessionId,
      data: {
        messages: [
          { role: "user", content: `Hello from session ${i}` },
          { role: "assistant", content: "Hi! How can I help?" },
        ],
        files: [],
        tasks: { open: i % 4 },
      },
      metadata: { user_id: users[i % users.length] as string, team: i % 2 === 0 ? "red" : "blue", name: `Chat ${i}` },
      expiry: { case: "expiresIn", value: { seconds: BigInt(86_400 * (1 + (i % 7))) } },
    });
  }
  const talkative = ids[ids.length - 1] as string;
  await client.save({
    sessionId: talkative,
    data: {
      messages: Array.from({ length: options.messages }, (_, i) => ({
        role: i % 2 === 0 ? "user" : "assistant",
        content: `message number ${i + 1}`,
      })),
      tasks: { open: 1, done: ["book flight", "find hotel"] },
    },
    metadata: { user_id: "alice", team: "red", name: "Trip planning" },
    expiry: { case: "expiresIn", value: { seconds: 86_400n } },
  });
  if (options.expired > 0) {
    await db.query(`UPDATE ${table} SET expires_at = now() - interval '1 hour' WHERE session_id = ANY($1::text[])`, [
      `{${ids.slice(0, options.expired).join(",")}}`,
    ]);
  }
  return { ids, talkative, messages: options.messages };
}

/**
 * Samples of the sessions by state, one every `stepMinutes` over the last `hours`, growing, written
 * into `{table}_samples` as the scheduled maintenance writes them; and a recorded scheduled cleanup
 * by `replica`, through the job row's own claim and finish.
 */
export async function recordHistory(
  db: Db,
  table: string,
  options: { hours: number; stepMinutes: number; replica: string },
): Promise<number> {
  const { rows } = await db.query<{ n: string }>(
    `WITH inserted AS (
       INSERT INTO ${table}_samples (taken_at, active, inactive, expired, total_messages, total_data_bytes)
       SELECT now() - g * $1::int8 * interval '1 minute', 400 - g * 2, 20 + (g % 9), g % 5, 5000 - g * 20, 900000 - g * 3000
       FROM generate_series(1, $2::int8) AS g
       RETURNING 1)
     SELECT count(*)::text AS n FROM inserted`,
    [String(options.stepMinutes), String(Math.floor((options.hours * 60) / options.stepMinutes))],
  );
  const job = jobRow(db, table, "cleanup");
  const claim = await job.claim(options.replica, 60_000, 60_000);
  if (claim.run === undefined) throw new Error("the cleanup job row was not free");
  await job.finish(claim.run, claim.claimedAt, {
    replica: options.replica,
    startedAt: new Date(),
    durationMs: 42,
    expired: 7,
    purged: 0,
  });
  return Number(rows[0]?.n);
}
