// The admin console (/admin) in Debian's Chromium, driven by playwright-core, against the service on
// a real socket over PGlite and PostgreSQL: the token flow, the health strip and counts, charts of
// recorded samples, paging and filtering the sessions, a session's page, every action with its
// confirmation and its effect in the database, what read and write tokens are not offered, keyboard
// use and an axe-core check of every view.
import { createRequire } from "node:module";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { createClient, type Interceptor } from "@connectrpc/connect";
import { createConnectTransport } from "@connectrpc/connect-node";
import type { Browser, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { AdminService } from "../../gen/isotope/admin/v1/admin_pb.js";
import type { Role } from "../../src/config/load-config.js";
import {
  consoleTokens,
  type Fixture,
  launchChromium,
  recordHistory,
  seedSessions,
  sessionClient,
} from "../support/console.js";
import { backends } from "../support/databases.js";
import { type RunningServer, startServer, testLimits } from "../support/server.js";

const axeSource = createRequire(import.meta.url).resolve("axe-core/axe.min.js");
const { tokens, auth } = consoleTokens();
const replica = "replica-under-test";

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
// What the browser reported as an error (a script failure, a CSP violation): none, in every test.
// Refused calls are not among them: the page shows those, and the test reads them there.
const browserErrors: string[] = [];
afterEach(() => {
  expect(browserErrors.splice(0)).toEqual([]);
});
afterAll(async () => {
  await browser?.close();
});

describe.each(backends())("the admin console on $name", (backend) => {
  let server: RunningServer;
  let fixture: Fixture;
  const client = () => sessionClient(server.url, tokens.admin);

  beforeAll(async () => {
    server = await startServer(backend, testLimits, 0, [], undefined, { auth });
    fixture = await seedSessions(server.url, tokens.admin, server.db, server.table, {
      count: 60,
      messages: 45,
      expired: 3,
    });
    await recordHistory(server.db, server.table, { hours: 24, stepMinutes: 10, replica });
  });
  afterAll(async () => {
    await server?.stop();
  });

  /** A fresh tab at 1366 × 768, signed in with `role`'s token. */
  async function signedIn(role: Role, options: { bypassCSP?: boolean } = {}): Promise<Page> {
    const context = await browser.newContext({ viewport: { width: 1366, height: 768 }, ...options });
    const page = await context.newPage();
    watch(page);
    await page.goto(`${server.url}/admin/`);
    await page.getByLabel("Bearer token").fill(tokens[role]);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#whoami").textContent()).toContain(`${role}-op`);
    return page;
  }

  const row = (sessionId: string) =>
    server.db
      .query<{ is_active: boolean; expires_in_h: string | null }>(
        `SELECT is_active, (extract(epoch FROM expires_at - now()) / 3600)::int8::text AS expires_in_h
         FROM ${server.table} WHERE session_id = $1`,
        [sessionId],
      )
      .then(({ rows }) => rows[0]);

  const shownIds = (page: Page) =>
    page.locator("table.sessions tbody tr").evaluateAll((rows) => rows.map((r) => r.getAttribute("data-session")));

  /** Every page List gives with `filter`, as the console should show them. */
  async function listPages(request: { includeInactive?: boolean; metadataFilter?: Record<string, string> }) {
    const pages: string[][] = [];
    let pageToken = "";
    do {
      const page = await client().list({ limit: 25, pageToken, ...request });
      pages.push(page.sessions.map((s) => s.sessionId));
      pageToken = page.nextPageToken;
    } while (pageToken !== "");
    return pages;
  }

  it("asks for a token, refuses a wrong one with its code, keeps a good one for the tab and forgets it on sign-out", async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    watch(page);
    await page.goto(`${server.url}/admin`);
    expect(page.url()).toBe(`${server.url}/admin/`);
    await page.getByLabel("Bearer token").fill("not-a-token");
    await page.getByRole("button", { name: "Sign in" }).click();
    const error = page.getByRole("alert");
    await expect.poll(() => error.textContent()).toContain("UNAUTHENTICATED");
    expect(await error.textContent()).toContain("the bearer token is not valid");

    await page.getByLabel("Bearer token").fill(tokens.admin);
    await page.getByRole("button", { name: "Sign in" }).click();
    await expect.poll(() => page.locator("#whoami").textContent()).toBe("Signed in as admin-op (role admin)");
    expect(await page.evaluate("[sessionStorage.length, localStorage.length]")).toEqual([1, 0]);
    await page.reload();
    await expect.poll(() => page.locator("#whoami").textContent()).toContain("admin-op");
    // Another tab has to sign in again: the token lives in this tab's sessionStorage only.
    const other = await context.newPage();
    await other.goto(`${server.url}/admin/`);
    await other.getByLabel("Bearer token").waitFor();

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Bearer token").waitFor();
    expect(await page.evaluate("sessionStorage.length")).toBe(0);
    await context.close();
  });

  it("shows health, counts as Statistics gives them, the last scheduled cleanup, and charts of the recorded samples", async () => {
    const page = await signedIn("read");
    const item = (name: string) => page.locator(`[data-item="${name}"]`);
    await expect.poll(() => item("Database").textContent()).toContain("reachable");
    expect(await item("Backend").textContent()).toContain(backend.name);
    expect(await item("Last cleanup").textContent()).toMatch(new RegExp(`ago by ${replica}.*7 expired · 0 purged`));

    const stats = await client().statistics({});
    const card = (name: string) => page.locator(`[data-card="${name}"] .card-value`).textContent();
    await expect.poll(() => card("Active")).toBe(String(stats.activeSessions - stats.expiredSessions));
    expect(await card("Expired")).toBe("3");
    expect(await card("Inactive")).toBe(String(stats.inactiveSessions));
    expect(await card("Created, last 24 h")).toBe(String(stats.createdLast24h));
    expect(await card("Messages")).toBe(String(stats.totalMessages));

    // One point per step from the Trends RPC, drawn as a line per state; the newest sample is "now".
    const adminClient = createClient(
      AdminService,
      createConnectTransport({ baseUrl: server.url, httpVersion: "1.1", interceptors: [bearer(tokens.read)] }),
    );
    const points = async (hours: number) =>
      (await adminClient.trends({ range: durationFromMs(hours * 3_600_000) })).points.length;
    const drawn = () =>
      page
        .locator("#chart-sessions polyline")
        .evaluateAll((lines) => lines.map((line) => line.getAttribute("points")?.split(" ").length));
    const day = await points(24);
    expect(day).toBeGreaterThan(100);
    await expect.poll(drawn).toEqual([day, day, day]);
    expect(await page.locator("#chart-sessions .legend").textContent()).toContain("Active: 398 now");
    expect(await page.locator("#chart-messages polyline").count()).toBe(1);

    await page.getByLabel("Range").selectOption({ label: "6 hours" });
    const six = await points(6);
    expect(six).toBeLessThan(day);
    await expect.poll(drawn).toEqual([six, six, six]);
    await page.context().close();
  });

  it("pages through more sessions than one page, newest first, and back", async () => {
    const pages = await listPages({});
    expect(pages.length).toBe(3);
    const page = await signedIn("read");
    await page.getByRole("link", { name: "Sessions", exact: true }).click();
    await expect.poll(() => shownIds(page)).toEqual(pages[0]);
    const older = page.getByRole("button", { name: "Older →" });
    await older.click();
    await expect.poll(() => shownIds(page)).toEqual(pages[1]);
    await older.click();
    await expect.poll(() => shownIds(page)).toEqual(pages[2]);
    expect(await older.isDisabled()).toBe(true);
    await page.getByRole("button", { name: "← Newer" }).click();
    await expect.poll(() => shownIds(page)).toEqual(pages[1]);
    await page.context().close();
  });

  it("filters by user_id, by any metadata key, and shows soft-deleted sessions only when asked", async () => {
    const hidden = fixture.ids[10] as string;
    await client().delete({ sessionId: hidden });
    const page = await signedIn("read");
    await page.getByRole("link", { name: "Sessions", exact: true }).click();

    await page.getByLabel("user_id").fill("bob");
    await page.getByRole("button", { name: "Apply" }).click();
    const bobs = await listPages({ metadataFilter: { user_id: "bob" } });
    await expect.poll(() => shownIds(page)).toEqual(bobs[0]);
    expect(await page.locator("table.sessions tbody td:nth-child(2)").allTextContents()).toEqual(
      bobs[0]?.map(() => "bob"),
    );

    await page.getByLabel("user_id").fill("");
    await page.getByLabel("Metadata key").fill("team");
    await page.getByLabel("equals").fill("blue");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect
      .poll(async () => (await shownIds(page))[0])
      .toBe((await listPages({ metadataFilter: { team: "blue" } }))[0]?.[0]);
    expect(await shownIds(page)).toEqual((await listPages({ metadataFilter: { team: "blue" } }))[0]);

    await page.getByLabel("Metadata key").fill("name");
    await page.getByLabel("equals").fill("Chat 10");
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => page.locator(".results").textContent()).toContain("No sessions match.");
    await page.getByLabel("Include soft-deleted").check();
    await page.getByRole("button", { name: "Apply" }).click();
    await expect.poll(() => shownIds(page)).toEqual([hidden]);
    expect(await page.locator(`tr[data-session="${hidden}"] .badge`).textContent()).toBe("soft-deleted");
    await page.context().close();
  });

  it("opens a session: figures, metadata, data as a tree, messages from the newest and older ones a page at a time", async () => {
    const page = await signedIn("read");
    await page.getByRole("link", { name: "Sessions", exact: true }).click();
    await page.getByLabel("Session id").fill("no-such-session");
    await page.getByRole("button", { name: "Open" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/Load failed: NOT_FOUND .*no-such-session/);

    await page.goto(`${server.url}/admin/#/sessions`);
    await page.getByLabel("Session id").fill(fixture.talkative);
    await page.getByRole("button", { name: "Open" }).click();
    await expect.poll(() => page.locator("h1").textContent()).toContain(fixture.talkative);
    expect(await page.locator('[data-fact="Messages"]').textContent()).toBe("45");
    expect(await page.locator('[data-fact="Version"]').textContent()).toBe("2");
    expect(await page.locator(".tree").first().textContent()).toContain('"Trip planning"');
    // The data tree: nested values closed until opened.
    const flight = page.getByText('"book flight"');
    expect(await flight.isVisible()).toBe(false);
    await page.locator("summary", { hasText: "tasks" }).click();
    await page.locator("summary", { hasText: "done" }).click();
    expect(await flight.isVisible()).toBe(true);

    const numbers = () => page.locator(".message-number").allTextContents();
    await expect.poll(async () => (await numbers()).length).toBe(20);
    expect((await numbers())[0]).toBe("#45");
    expect(await page.locator(".message-content").first().textContent()).toBe("message number 45");
    await page.getByRole("button", { name: "Show 20 older messages" }).click();
    await expect.poll(async () => (await numbers()).length).toBe(40);
    await page.getByRole("button", { name: "Show 5 older messages" }).click();
    await expect.poll(async () => (await numbers()).at(-1)).toBe("#1");
    expect(await page.locator("#older-messages").count()).toBe(0);
    await page.context().close();
  });

  it("asks before every action, says what it will do, and changes the database only when confirmed", async () => {
    const page = await signedIn("admin");
    const dialog = page.getByRole("dialog");
    const target = fixture.ids[30] as string;
    await page.goto(`${server.url}/admin/#/session/${target}`);

    // Extend expiry (Touch): cancelled first, then done.
    const before = await row(target);
    await page.getByLabel("Expire in").fill("48");
    await page.getByRole("button", { name: "Extend expiry…" }).click();
    expect(await dialog.textContent()).toContain(`Session ${target} will expire`);
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await row(target)).toEqual(before);
    await page.getByRole("button", { name: "Extend expiry…" }).click();
    await dialog.getByRole("button", { name: "Extend expiry" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toBe("Expiry extended by 48 hours.");
    expect(Number((await row(target))?.expires_in_h)).toBe(48);

    // Soft delete: the row stays, inactive; what an inactive session cannot do is no longer offered.
    await page.getByRole("button", { name: "Soft delete…" }).click();
    expect(await dialog.textContent()).toContain("will be marked inactive");
    await dialog.getByRole("button", { name: "Soft-delete" }).click();
    await expect.poll(() => row(target).then((r) => r?.is_active)).toBe(false);
    await expect.poll(() => page.locator("h1 .badge").textContent()).toBe("soft-deleted");
    expect(await page.getByRole("button", { name: "Extend expiry…" }).count()).toBe(0);

    // Hard delete: gone, and back to the list with the outcome.
    await page.getByRole("button", { name: "Hard delete…" }).click();
    expect(await dialog.textContent()).toContain("This cannot be undone.");
    await dialog.getByRole("button", { name: "Delete for good" }).click();
    await expect.poll(() => page.getByRole("status").textContent()).toBe(`Session ${target} was deleted for good.`);
    expect(await row(target)).toBeUndefined();
    expect(page.url()).toContain("#/sessions");

    // Cleanup: a dry run counts first; cancelling changes nothing; confirming expires the three.
    const expiredIds = fixture.ids.slice(0, 3);
    await page.getByRole("link", { name: "Overview" }).click();
    await page.getByRole("button", { name: "Clean up…" }).click();
    await expect.poll(() => dialog.textContent()).toContain("3 expired sessions will be marked inactive");
    await dialog.getByRole("button", { name: "Cancel" }).click();
    expect(await Promise.all(expiredIds.map((id) => row(id).then((r) => r?.is_active)))).toEqual([true, true, true]);
    await page.getByRole("button", { name: "Clean up…" }).click();
    await dialog.getByRole("button", { name: "Run cleanup" }).click();
    await expect
      .poll(() => page.getByRole("status").textContent())
      .toMatch(/Cleanup done in .*: 3 expired marked inactive, 0 purged/);
    expect(await Promise.all(expiredIds.map((id) => row(id).then((r) => r?.is_active)))).toEqual([false, false, false]);

    // Restore now: every active, unexpired session restored.
    const { rows } = await server.db.query<{ n: string }>(
      `SELECT count(*)::text AS n FROM ${server.table} WHERE is_active AND (expires_at IS NULL OR expires_at > now())`,
    );
    await page.getByRole("button", { name: "Restore now…" }).click();
    expect(await dialog.textContent()).toContain("It changes nothing");
    await dialog.getByRole("button", { name: "Run restore" }).click();
    await expect
      .poll(() => page.getByRole("status").textContent())
      .toMatch(new RegExp(`: ${rows[0]?.n} restored, 0 failed, 0 expired skipped`));
    await page.context().close();
  });

  it("offers a read token no write action, and a write token no cleanup", async () => {
    const target = fixture.ids[40] as string;
    const offered = async (role: Role) => {
      const page = await signedIn(role);
      await page.locator("#restore-now").waitFor();
      const cleanup = await page.locator("#cleanup-form").count();
      await page.goto(`${server.url}/admin/#/session/${target}`);
      await page.locator(".facts").waitFor();
      const buttons = await page.locator("main button").allTextContents();
      await page.context().close();
      return { cleanup, buttons };
    };
    expect(await offered("read")).toEqual({ cleanup: 0, buttons: [] });
    expect(await offered("write")).toEqual({
      cleanup: 0,
      buttons: ["Extend expiry…", "Soft delete…", "Hard delete…"],
    });
    expect((await offered("admin")).cleanup).toBe(1);
  });

  it("works from the keyboard, labels every control, and axe finds nothing serious on any view", async () => {
    const page = await signedIn("admin", { bypassCSP: true });
    const violations = async (view: string) => {
      // Page functions run in the browser; written as text, since this file is compiled for Node.
      if (!(await page.evaluate('"axe" in window'))) await page.addScriptTag({ path: axeSource });
      const found = (await page.evaluate(
        "axe.run().then((r) => r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length })))",
      )) as Array<{ id: string; impact: string; nodes: number }>;
      return found.filter((v) => v.impact === "serious" || v.impact === "critical").map((v) => ({ view, ...v }));
    };
    const unlabelled = () =>
      page.evaluate(
        '[...document.querySelectorAll("main input, main select")].filter((c) => c.labels.length === 0).map((c) => c.id)',
      );
    /** Tab until `selector` has the focus (at most 25 presses); false when it never does. */
    const tabTo = async (selector: string) => {
      for (let i = 0; i < 25; i++) {
        await page.keyboard.press("Tab");
        if (await page.evaluate(`document.activeElement?.matches(${JSON.stringify(selector)}) ?? false`)) return true;
      }
      return false;
    };

    await page.locator("#chart-sessions svg").waitFor();
    const found = [...(await violations("overview"))];
    expect(await unlabelled()).toEqual([]);

    await page.getByRole("link", { name: "Sessions", exact: true }).click();
    await page.locator("table.sessions").waitFor();
    found.push(...(await violations("sessions")));
    expect(await unlabelled()).toEqual([]);
    // Filter by keyboard alone: tab to user_id, type, Enter submits.
    expect(await tabTo("#filter-user")).toBe(true);
    await page.keyboard.type("carol");
    await page.keyboard.press("Enter");
    await expect
      .poll(async () => new Set(await page.locator("table.sessions tbody td:nth-child(2)").allTextContents()))
      .toEqual(new Set(["carol"]));
    // Open the first session by keyboard.
    expect(await tabTo("table.sessions a")).toBe(true);
    const opened = (await page.evaluate("document.activeElement.textContent")) as string;
    await page.keyboard.press("Enter");
    await page.locator(".facts").waitFor();
    expect(await page.locator("h1 code").textContent()).toBe(opened);
    found.push(...(await violations("session")));
    expect(await unlabelled()).toEqual([]);

    // A confirmation from the keyboard: the safe answer has the focus, Escape cancels.
    const before = await row(opened);
    expect(await tabTo("#soft-delete")).toBe(true);
    await page.keyboard.press("Enter");
    await page.getByRole("dialog").waitFor();
    expect(await page.evaluate("document.activeElement.textContent")).toBe("Cancel");
    found.push(...(await violations("confirmation")));
    await page.keyboard.press("Escape");
    expect(await page.getByRole("dialog").count()).toBe(0);
    expect(await row(opened)).toEqual(before);

    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Bearer token").waitFor();
    found.push(...(await violations("sign-in")));
    expect(found).toEqual([]);
    await page.context().close();
  });
});

function watch(page: Page): void {
  page.on("pageerror", (error) => browserErrors.push(`page error: ${error.message}`));
  page.on("console", (message) => {
    // A refused RPC is a failed fetch the browser logs by itself (401, 404 …); the page shows it.
    if (message.type() === "error" && !/status of 4\d\d/.test(message.text())) browserErrors.push(message.text());
  });
}

function bearer(token: string): Interceptor {
  return (next) => (req) => {
    req.header.set("authorization", `Bearer ${token}`);
    return next(req);
  };
}
