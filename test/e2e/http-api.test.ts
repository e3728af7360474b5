// The seed's HTTP API on the service's port, over real sockets: every endpoint with the seed's
// field names and HTTP statuses, on every backend; bad input answered 4xx with {code, message} and
// the table unchanged; HTTP/2 and TLS; bearer-token roles exactly as for the RPCs; CORS. Every
// answer is also checked against the OpenAPI document (test/support/http-api.ts).
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { backends, embedded } from "../support/databases.js";
import { type ApiCall, apiCaller } from "../support/http-api.js";
import { type RunningServer, startServer, tableChecksum, testLimits } from "../support/server.js";

const sessions = "/api/sessions/postgres/sessions";
const at = (id: string) => `${sessions}/${encodeURIComponent(id)}`;

describe.each(backends())("the HTTP API on $name", (backend) => {
  let server: RunningServer;
  let api: ApiCall;
  beforeAll(async () => {
    server = await startServer(backend);
    api = apiCaller({ port: server.port, version: "1.1" });
  });
  afterAll(async () => server?.stop());

  const put = (id: string, body: unknown) => api("PUT", at(id), { body });
  const sql = (text: string, params: unknown[] = []) => server.db.query(text, params);

  it("PUT creates (201, Location) and replaces (200); GET answers with the seed's field names and the data", async () => {
    const data = { messages: [{ role: "user", content: "hi" }], files: {}, tasks: [] };
    const created = await put("crud/1", { session_data: data, metadata: { user_id: "u1" }, expires_in_hours: 24 });
    expect(created.status).toBe(201);
    expect(created.headers.location).toBe(at("crud/1"));
    expect(created.body).toEqual({ session_id: "crud/1", version: 1, created: true, durability: "database" });

    const replaced = await put("crud/1", { data: { messages: [] } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ version: 2, created: false });

    const loaded = await api("GET", at("crud/1"));
    expect(loaded.status).toBe(200);
    expect(Object.keys(loaded.body).sort()).toEqual(
      [
        "session_id",
        "metadata",
        "created_at",
        "last_updated",
        "expires_at",
        "version",
        "is_active",
        "message_count",
        "data",
        "durability",
      ].sort(),
    );
    expect(loaded.body).toMatchObject({
      session_id: "crud/1",
      metadata: { user_id: "u1" }, // unset metadata keeps the stored one
      version: 2,
      is_active: true,
      message_count: 0,
      data: { messages: [] },
      expires_at: null, // every save sets the expiry: none given = never
    });
    expect(Date.parse(loaded.body.created_at)).toBeGreaterThan(Date.now() - 60_000);
  });

  it("saves with expires_at and with expected_version as a compare-and-set (409 with the current version)", async () => {
    const expiresAt = new Date(Date.now() + 3_600_000).toISOString();
    expect((await put("cas", { session_data: {}, expires_at: expiresAt, expected_version: 0 })).status).toBe(201);
    expect(Date.parse((await api("GET", at("cas"))).body.expires_at)).toBe(Date.parse(expiresAt));

    const stale = await put("cas", { session_data: { n: 2 }, expected_version: 7 });
    expect(stale.status).toBe(409);
    expect(stale.body).toEqual({
      code: "aborted",
      message: expect.stringContaining("expected_version"),
      version_conflict: { session_id: "cas", expected_version: 7, current_version: 1 },
    });
    expect((await put("cas", { session_data: { n: 2 }, expected_version: 1 })).body.version).toBe(2);
    expect((await put("cas", { session_data: {}, expected_version: 0 })).status).toBe(409);
  });

  it("GET of a session takes last_messages and include_inactive; a missing one is 404 not_found", async () => {
    const messages = Array.from({ length: 5 }, (_, i) => ({ role: "user", content: `m${i}` }));
    await put("window", { session_data: { messages } });
    const last = await api("GET", `${at("window")}?last_messages=2`);
    expect(last.body.data.messages).toEqual(messages.slice(-2));
    expect(last.body.message_count).toBe(5);

    const missing = await api("GET", at("nobody"));
    expect(missing.status).toBe(404);
    expect(missing.body.code).toBe("not_found");

    expect((await api("DELETE", at("window"))).body).toEqual({ deleted: true, hard: false });
    expect((await api("GET", at("window"))).status).toBe(404);
    const inactive = await api("GET", `${at("window")}?include_inactive=true`);
    expect(inactive.body).toMatchObject({ session_id: "window", is_active: false });
  });

  it("DELETE is soft by default, hard with ?hard=true; 404 when there is nothing, unless allow_missing", async () => {
    await put("gone", { session_data: {} });
    expect((await api("DELETE", `${at("gone")}?hard=true`)).body).toEqual({ deleted: true, hard: true });
    const { rows } = await sql(`SELECT count(*)::int AS n FROM ${server.table} WHERE session_id = 'gone'`);
    expect(rows[0]).toEqual({ n: 0 });
    const again = await api("DELETE", at("gone"));
    expect([again.status, again.body.code]).toEqual([404, "not_found"]);
    expect((await api("DELETE", `${at("gone")}?allow_missing=true`)).body).toEqual({ deleted: false, hard: false });
  });

  it("PUT and DELETE with an Idempotency-Key apply once: a repeat answers as the first, another request is 400", async () => {
    const keyed = (method: "PUT" | "DELETE", id: string, key: string, body?: unknown) =>
      api(method, at(id), { body, headers: { "content-type": "application/json", "idempotency-key": key } });
    const first = await keyed("PUT", "idem", "put-1", { session_data: { step: 1 } });
    const again = await keyed("PUT", "idem", "put-1", { session_data: { step: 1 } });
    expect([first.status, again.status]).toEqual([201, 201]);
    expect(again.body).toEqual(first.body);
    expect((await api("GET", at("idem"))).body).toMatchObject({ version: 1, data: { step: 1 } });

    const before = await tableChecksum(server);
    const misuse = await keyed("PUT", "idem", "put-1", { session_data: { step: 2 } });
    expect([misuse.status, misuse.body.code]).toEqual([400, "invalid_argument"]);
    expect(misuse.body.message).toContain("request_id");
    const malformed = await keyed("PUT", "idem", "has space", { session_data: { step: 2 } });
    expect(malformed.status).toBe(400);
    expect(await tableChecksum(server)).toBe(before);

    // Unkeyed, a second soft delete is 404: the key's repeat answers as the first did.
    expect((await keyed("DELETE", "idem", "delete-1")).body).toEqual({ deleted: true, hard: false });
    const repeated = await keyed("DELETE", "idem", "delete-1");
    expect([repeated.status, repeated.body]).toEqual([200, { deleted: true, hard: false }]);
  });

  it("lists with limit and offset or page_token, include_inactive, include_data and metadata filters", async () => {
    for (let i = 0; i < 5; i++) {
      await put(`list-${i}`, {
        session_data: { i },
        metadata: { user_id: i < 3 ? "lu1" : "lu2", tenant: "list", n: i },
      });
    }
    const first = await api("GET", `${sessions}?limit=2&offset=0&include_inactive=false&user_id=lu1`);
    expect(first.status).toBe(200);
    expect(first.body.count).toBe(2);
    expect(first.body.sessions.map((s: { session_id: string }) => s.session_id)).toEqual(["list-2", "list-1"]);
    expect(first.body.sessions[0].data).toBeUndefined();
    const next = await api("GET", `${sessions}?limit=2&user_id=lu1&page_token=${first.body.next_page_token}`);
    expect(next.body).toMatchObject({ count: 1, next_page_token: "", sessions: [{ session_id: "list-0" }] });
    const skipped = await api("GET", `${sessions}?limit=2&offset=2&metadata.user_id=lu1`);
    expect(skipped.body.sessions.map((s: { session_id: string }) => s.session_id)).toEqual(["list-0"]);

    // Typed containment through metadata_filter; data on request.
    const typed = await api("GET", `${sessions}?include_data=true&metadata_filter=${encodeURIComponent('{"n":4}')}`);
    expect(typed.body.sessions).toEqual([expect.objectContaining({ session_id: "list-4", data: { i: 4 } })]);

    await api("DELETE", at("list-3"));
    const active = await api("GET", `${sessions}?tenant=list&user_id=lu2`);
    expect(active.body.sessions.map((s: { session_id: string }) => s.session_id)).toEqual(["list-4"]);
    const all = await api("GET", `${sessions}?tenant=list&user_id=lu2&include_inactive=true`);
    expect(all.body.count).toBe(2);
  });

  it("statistics answer get_session_statistics()'s keys", async () => {
    const stats = await api("GET", "/api/sessions/postgres/statistics");
    expect(stats.status).toBe(200);
    expect(Object.keys(stats.body).sort()).toEqual(
      [
        "total_sessions",
        "active_sessions",
        "inactive_sessions",
        "expired_sessions",
        "total_messages",
        "avg_messages_per_session",
        "total_data_bytes",
        "oldest_session",
        "latest_activity",
        "created_last_24h",
      ].sort(),
    );
    const { rows } = await sql(`SELECT count(*)::int AS n FROM ${server.table}`);
    expect(stats.body.total_sessions).toBe((rows[0] as { n: number }).n);
    expect(Date.parse(stats.body.oldest_session)).toBeLessThanOrEqual(Date.parse(stats.body.latest_activity));
  });

  it("restore counts, names the sessions it cannot serve, and the compatibility endpoints keep its result", async () => {
    await put("rs-good", { session_data: {}, metadata: { tenant: "rs" } });
    await sql(
      `INSERT INTO ${server.table} (session_id, session_data, metadata) VALUES ('rs-bad', '[1,2]', '{"tenant":"rs"}')`,
    );
    const result = await api("POST", "/api/sessions/postgres/restore?tenant=rs");
    expect(result.status).toBe(200);
    expect(result.body).toMatchObject({
      restored_count: 1,
      failed_count: 1,
      failed_sessions: [{ session_id: "rs-bad", reason: expect.stringContaining("not a JSON object") }],
      skipped_expired_count: 0,
    });
    expect(result.body.duration_seconds).toBeGreaterThanOrEqual(0);
    const restored = await api("GET", "/api/sessions/restored");
    expect(restored.body).toEqual({ restored: true, restored_at: expect.any(String), ...result.body });

    // Options in the body; the compatibility POST runs one now.
    const filtered = await api("POST", "/api/sessions/restore", {
      body: { metadata_filter: { tenant: "nobody" }, batch_size: 10 },
    });
    expect(filtered.body).toMatchObject({ restored_count: 0, failed_count: 0 });
    expect((await api("GET", "/api/sessions/restored")).body.restored_count).toBe(0);
    await sql(`DELETE FROM ${server.table} WHERE session_id = 'rs-bad'`);
  });

  it("cleanup: dry_run counts and changes nothing; options from the query or the body; purge by age", async () => {
    await put("old-1", { session_data: {}, metadata: { tenant: "cleanup" } });
    await put("old-2", { session_data: {}, metadata: { tenant: "cleanup" } });
    await sql(
      `UPDATE ${server.table} SET expires_at = now() - interval '1 hour' WHERE session_id IN ('old-1', 'old-2')`,
    );
    const before = await tableChecksum(server);
    const dry = await api("POST", "/api/sessions/postgres/cleanup?dry_run=true");
    expect(dry.body).toMatchObject({ expired_count: 2, cleaned_count: 2, purged_count: 0, dry_run: true });
    expect(await tableChecksum(server)).toBe(before);

    const done = await api("POST", "/api/sessions/postgres/cleanup", { body: { batch_size: 1 } });
    expect(done.body).toMatchObject({ expired_count: 2, cleaned_count: 2, dry_run: false });
    const listed = await api("GET", `${sessions}?tenant=cleanup&include_inactive=true`);
    expect(listed.body.sessions.map((s: { is_active: boolean }) => s.is_active)).toEqual([false, false]);

    await sql(
      `UPDATE ${server.table} SET last_updated = now() - interval '3 hours' WHERE session_id IN ('old-1', 'old-2')`,
    );
    const purged = await api("POST", "/api/sessions/postgres/cleanup", {
      body: { purge_inactive_older_than_hours: 2, hard_delete: true },
    });
    expect(purged.body.purged_count).toBeGreaterThanOrEqual(2);
    expect((await api("GET", `${sessions}?tenant=cleanup&include_inactive=true`)).body.count).toBe(0);
  });

  it("connection/test answers the seed's success with the figures", async () => {
    const test = await api("GET", "/api/sessions/postgres/connection/test");
    expect(test.status).toBe(200);
    expect(test.body).toMatchObject({
      success: true,
      ok: true,
      backend: backend.name,
      pool: { total: expect.any(Number), idle: expect.any(Number), waiting: 0 },
      cache: { enabled: true, coherent: true },
      spool: { enabled: false },
    });
    expect(test.body.server_version).toContain("PostgreSQL");
    expect(test.body.error).toBeUndefined();
  });

  describe("bad input: a 4xx with {code, message} and the table unchanged", () => {
    let before: string;
    beforeEach(async () => {
      await put("keep", { session_data: { kept: true }, metadata: { user_id: "k" } });
      before = await tableChecksum(server);
    });

    const huge = "x".repeat(testLimits.maxReceiveBytes + 1);
    const overSession = { session_data: { blob: "y".repeat(testLimits.maxSessionBytes + 1) } };
    const cases: Array<[string, string, string, unknown, number, string]> = [
      ["malformed JSON", "PUT", at("keep"), "{bad", 400, "invalid_argument"],
      ["an array body", "PUT", at("keep"), "[1]", 400, "invalid_argument"],
      ["a number beyond a double", "PUT", at("keep"), '{"session_data":{"a":1e400}}', 400, "invalid_argument"],
      ["a body that is not UTF-8", "PUT", at("keep"), Buffer.from([0x7b, 0xff, 0x7d]), 400, "invalid_argument"],
      ["no session_data", "PUT", at("keep"), { metadata: {} }, 400, "invalid_argument"],
      ["session_data not an object", "PUT", at("keep"), { session_data: [1] }, 400, "invalid_argument"],
      ["session_data and data", "PUT", at("keep"), { session_data: {}, data: {} }, 400, "invalid_argument"],
      ["an unknown field", "PUT", at("keep"), { session_data: {}, expires_in_hour: 1 }, 400, "invalid_argument"],
      ["a lone surrogate", "PUT", at("keep"), '{"session_data":{"a":"\\ud800"}}', 400, "invalid_argument"],
      ["U+0000 in a key", "PUT", at("keep"), '{"session_data":{"\\u0000":1}}', 400, "invalid_argument"],
      [
        "negative expires_in_hours",
        "PUT",
        at("keep"),
        { session_data: {}, expires_in_hours: -1 },
        400,
        "invalid_argument",
      ],
      [
        "expires_at in the past",
        "PUT",
        at("keep"),
        { session_data: {}, expires_at: "2001-01-01T00:00:00Z" },
        400,
        "invalid_argument",
      ],
      [
        "expires_at not a time",
        "PUT",
        at("keep"),
        { session_data: {}, expires_at: "tomorrow" },
        400,
        "invalid_argument",
      ],
      [
        "both expiries",
        "PUT",
        at("keep"),
        { session_data: {}, expires_in_hours: 1, expires_at: "2099-01-01T00:00:00Z" },
        400,
        "invalid_argument",
      ],
      ["a control character in the id", "PUT", at("a\u0001b"), { session_data: {} }, 400, "invalid_argument"],
      ["a 256-character id", "PUT", at("i".repeat(256)), { session_data: {} }, 400, "invalid_argument"],
      ["a broken percent-encoding", "PUT", `${sessions}/%E0%A4%A`, { session_data: {} }, 400, "invalid_argument"],
      ["data over max_session_bytes", "PUT", at("keep"), overSession, 413, "resource_exhausted"],
      ["a body over max_receive_bytes", "PUT", at("keep"), huge, 413, "resource_exhausted"],
      ["limit not a number", "GET", `${sessions}?limit=ten`, undefined, 400, "invalid_argument"],
      ["limit out of range", "GET", `${sessions}?limit=5000`, undefined, 400, "invalid_argument"],
      ["a negative offset", "GET", `${sessions}?offset=-1`, undefined, 400, "invalid_argument"],
      ["a forged page_token", "GET", `${sessions}?page_token=forged`, undefined, 400, "invalid_argument"],
      ["a parameter given twice", "GET", `${sessions}?limit=1&limit=2`, undefined, 400, "invalid_argument"],
      ["an unknown parameter on Load", "GET", `${at("keep")}?lastmessages=2`, undefined, 400, "invalid_argument"],
      ["a boolean that is not one", "DELETE", `${at("keep")}?hard=yes`, undefined, 400, "invalid_argument"],
      [
        "cleanup batch_size out of range",
        "POST",
        "/api/sessions/postgres/cleanup",
        { batch_size: 0.5 },
        400,
        "invalid_argument",
      ],
      [
        "a cleanup option in query and body",
        "POST",
        "/api/sessions/postgres/cleanup?dry_run=true",
        { dry_run: false, hard_delete: true },
        400,
        "invalid_argument",
      ],
      [
        "purge age not positive",
        "POST",
        "/api/sessions/postgres/cleanup?purge_inactive_older_than_hours=0",
        undefined,
        400,
        "invalid_argument",
      ],
      ["an unknown path", "GET", "/api/sessions/postgres/nothing", undefined, 404, "not_found"],
      ["a method the path does not answer", "PATCH", at("keep"), { session_data: {} }, 405, "unimplemented"],
    ];
    it.each(cases)("%s → %s %s", async (_name, method, path, body, status, code) => {
      const answer = await api(method, path, { body, headers: { "content-type": "application/json" } });
      expect([answer.status, answer.body.code]).toEqual([status, code]);
      expect(answer.body.message).toEqual(expect.any(String));
      if (status === 405) expect(answer.headers.allow).toBe("GET, PUT, DELETE");
      expect(await tableChecksum(server)).toBe(before);
    });
  });
});

describe("connection/test when the database does not answer", () => {
  let server: RunningServer;
  beforeAll(async () => {
    server = await startServer(embedded);
  });
  afterAll(async () => server?.stop());

  it("is 503 with success false and the reason, so curl -f and load balancers see it", async () => {
    const api = apiCaller({ port: server.port, version: "1.1" });
    expect((await api("GET", "/api/sessions/postgres/connection/test")).status).toBe(200);
    await server.db.close();
    const down = await api("GET", "/api/sessions/postgres/connection/test");
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ success: false, ok: false, error: "database did not answer" });
  });
});
