/**
 * The first view: is the service healthy (health strip), how many sessions (count cards), growing
 * or not (trends), and the maintenance actions — cleanup with a dry-run count first, restore now.
 */
import { durationFromMs, durationMs } from "@bufbuild/protobuf/wkt";
import type { MaintenanceStatusResponse } from "../../gen/isotope/admin/v1/admin_pb.js";
import type { CheckConnectionResponse, StatisticsResponse } from "../../gen/isotope/session/v1/session_pb.js";
import { type Access, admin, sessions } from "./api.js";
import { lineChart } from "./chart.js";
import { confirmAction } from "./confirm.js";
import { fill, h } from "./dom.js";
import { bytes, count, dateOf, instant, milliseconds, relative, span } from "./format.js";
import { doneBox, errorBox } from "./notice.js";

const ranges = [
  { label: "6 hours", ms: 6 * 3_600_000 },
  { label: "24 hours", ms: 24 * 3_600_000 },
  { label: "7 days", ms: 7 * 86_400_000 },
  { label: "30 days", ms: 30 * 86_400_000 },
];
let chosenRangeMs = 24 * 3_600_000;

export function overview(view: HTMLElement, access: Access): void {
  const health = h("section", { "aria-labelledby": "health-title", class: "health" });
  const cards = h("section", { "aria-labelledby": "counts-title" });
  const trends = h("section", { "aria-labelledby": "trends-title" });
  const maintenance = h("section", { "aria-labelledby": "maintenance-title" });
  fill(view, h("h1", {}, "Overview"), health, cards, trends, maintenance);

  const refresh = () => {
    void loadHealth(health);
    void loadCounts(cards);
  };
  refresh();
  void loadTrends(trends);
  maintenanceSection(maintenance, access, refresh);
}

async function loadHealth(section: HTMLElement): Promise<void> {
  fill(section, h("h2", { id: "health-title" }, "Health"), h("p", { class: "loading" }, "Asking the service…"));
  const started = performance.now();
  const [check, status] = await Promise.allSettled([sessions.checkConnection({}), admin.maintenanceStatus({})]);
  const roundTrip = performance.now() - started;
  const items: HTMLElement[] = [];
  if (check.status === "fulfilled") items.push(...connectionItems(check.value, roundTrip));
  if (status.status === "fulfilled") items.push(cleanupItem(status.value));
  fill(
    section,
    h("h2", { id: "health-title" }, "Health"),
    h("ul", { class: "strip" }, ...items),
    check.status === "rejected" && errorBox(check.reason, "CheckConnection"),
    status.status === "rejected" && errorBox(status.reason, "MaintenanceStatus"),
  );
}

function item(label: string, state: "ok" | "bad" | "off" | "info", ...lines: (string | Node)[]): HTMLElement {
  return h(
    "li",
    { class: `pill ${state}`, "data-item": label },
    h("span", { class: "pill-label" }, label),
    ...lines.map((line) => h("span", { class: "pill-line", title: typeof line === "string" ? line : undefined }, line)),
  );
}

function connectionItems(check: CheckConnectionResponse, roundTrip: number): HTMLElement[] {
  const { pool, cache, spool } = check;
  const hitRate =
    cache && cache.hits + cache.misses > 0n
      ? `${Math.round((Number(cache.hits) / Number(cache.hits + cache.misses)) * 100)}% hits`
      : "no loads yet";
  return [
    check.ok
      ? item(
          "Database",
          "ok",
          "reachable",
          `${milliseconds(check.latency)} SELECT 1 · ${Math.round(roundTrip)} ms from here`,
        )
      : item("Database", "bad", "unreachable", check.error),
    // "PostgreSQL 16.4 (…) on x86_64-pc-linux-gnu, compiled by …": the part before " on " says enough.
    item("Backend", "info", `${check.backend} · ${check.serverVersion.split(" on ")[0]}`, check.database),
    item(
      "Pool",
      pool && pool.waiting > 0 ? "bad" : "info",
      `${pool?.total ?? 0} open · ${pool?.idle ?? 0} idle`,
      `${pool?.waiting ?? 0} waiting`,
    ),
    cache?.enabled
      ? item(
          "Cache",
          "info",
          `${count(cache.entries)} sessions · ${bytes(cache.bytes)} of ${bytes(cache.maxBytes)}`,
          hitRate,
        )
      : item("Cache", "off", "off"),
    spool?.enabled
      ? item(
          "Spool",
          spool.pending > 0n ? "bad" : "ok",
          `${count(spool.pending)} pending`,
          `${count(spool.replayed)} replayed · ${count(spool.conflicts)} conflicts`,
        )
      : item("Spool", "off", "off"),
  ];
}

function cleanupItem(status: MaintenanceStatusResponse): HTMLElement {
  const last = status.lastCleanup;
  const interval = status.interval === undefined ? 0 : durationMs(status.interval);
  const schedule = interval === 0 ? "schedule off here" : `every ${span(interval)}`;
  if (last === undefined) return item("Last cleanup", "info", "never ran", schedule);
  const when = dateOf(last.startedAt) as Date;
  const time = h("time", { datetime: when.toISOString(), title: instant(when) }, relative(when));
  const what = `${count(last.expiredCount)} expired · ${count(last.purgedCount)} purged`;
  return last.error
    ? item("Last cleanup", "bad", h("span", {}, time, ` by ${last.replica}: failed`), last.error)
    : item("Last cleanup", "ok", h("span", {}, time, ` by ${last.replica}`), `${what} · ${schedule}`);
}

async function loadCounts(section: HTMLElement): Promise<void> {
  const title = h("h2", { id: "counts-title" }, "Sessions");
  let stats: StatisticsResponse;
  try {
    stats = await sessions.statistics({});
  } catch (error) {
    fill(section, title, errorBox(error, "Statistics"));
    return;
  }
  const card = (label: string, value: string, note: string) =>
    h(
      "div",
      { class: "card", "data-card": label },
      h("div", { class: "card-value" }, value),
      h("div", { class: "card-label" }, label),
      h("div", { class: "card-note" }, note),
    );
  fill(
    section,
    title,
    h(
      "div",
      { class: "cards" },
      card("Active", count(stats.activeSessions - stats.expiredSessions), "live and unexpired"),
      card("Inactive", count(stats.inactiveSessions), "soft-deleted"),
      card("Expired", count(stats.expiredSessions), "awaiting cleanup"),
      card("Created, last 24 h", count(stats.createdLast24h), "new sessions"),
      card("Messages", count(stats.totalMessages), `${stats.avgMessagesPerSession.toFixed(1)} per active session`),
      card("Data", bytes(stats.totalDataBytes), `${count(stats.totalSessions)} rows in all`),
    ),
  );
}

async function loadTrends(section: HTMLElement): Promise<void> {
  const select = h(
    "select",
    {
      id: "trend-range",
      onchange: () => {
        chosenRangeMs = Number(select.value);
        void loadTrends(section);
      },
    },
    ...ranges.map((range) => h("option", { value: range.ms, selected: range.ms === chosenRangeMs }, range.label)),
  );
  const header = h(
    "div",
    { class: "section-head" },
    h("h2", { id: "trends-title" }, "Trends"),
    h("label", { for: "trend-range" }, "Range "),
    select,
  );
  fill(section, header, h("p", { class: "loading" }, "Reading the samples…"));
  try {
    const trend = await admin.trends({ range: durationFromMs(chosenRangeMs) });
    const until = dateOf(trend.until) as Date;
    const from = new Date(until.getTime() - chosenRangeMs);
    const times = trend.points.map((point) => dateOf(point.takenAt) as Date);
    if (times.length === 0) {
      fill(
        section,
        header,
        h(
          "p",
          { class: "empty" },
          "No samples in this range yet: the replica leading scheduled maintenance records one each cleanup interval.",
        ),
      );
      return;
    }
    const series = (name: string, color: string, pick: (point: (typeof trend.points)[number]) => bigint) => ({
      name,
      color,
      values: trend.points.map((point) => Number(pick(point))),
    });
    fill(
      section,
      header,
      h(
        "div",
        { class: "charts" },
        lineChart({
          id: "chart-sessions",
          title: "Sessions by state",
          times,
          from,
          until,
          series: [
            series("Active", "#1f6feb", (point) => point.active),
            series("Inactive", "#8250df", (point) => point.inactive),
            series("Expired", "#c4432b", (point) => point.expired),
          ],
        }),
        lineChart({
          id: "chart-messages",
          title: "Messages",
          times,
          from,
          until,
          series: [series("Messages", "#1a7f37", (point) => point.totalMessages)],
        }),
      ),
    );
  } catch (error) {
    fill(section, header, errorBox(error, "Trends"));
  }
}

function maintenanceSection(section: HTMLElement, access: Access, refresh: () => void): void {
  const outcome = h("div", { class: "outcome", "aria-live": "polite" });
  const parts: Node[] = [h("h2", { id: "maintenance-title" }, "Maintenance")];
  if (access.can("Cleanup")) {
    const hard = h("input", { type: "checkbox", id: "cleanup-hard" });
    const purge = h("input", {
      type: "number",
      id: "cleanup-purge-days",
      min: 1,
      placeholder: "never",
      inputmode: "numeric",
    });
    const button = h("button", { type: "submit", class: "primary" }, "Clean up…");
    const form = h(
      "form",
      { class: "inline-form", id: "cleanup-form" },
      h("label", { for: "cleanup-hard" }, hard, " Delete expired sessions (instead of marking them inactive)"),
      h("label", { for: "cleanup-purge-days" }, "Delete sessions inactive for more than ", purge, " days"),
      button,
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      void cleanUp(
        { hard: hard.checked, purgeDays: purge.value === "" ? undefined : Number(purge.value) },
        outcome,
        refresh,
      );
    });
    parts.push(form);
  }
  if (access.can("Restore")) {
    const button = h("button", { type: "button", class: "secondary", id: "restore-now" }, "Restore now…");
    button.addEventListener("click", () => void restoreNow(outcome));
    parts.push(
      h(
        "div",
        { class: "inline-form" },
        h("span", {}, "Check that every session an engine would restore can be served:"),
        button,
      ),
    );
  }
  parts.push(outcome);
  fill(section, ...parts);
}

async function cleanUp(
  options: { hard: boolean; purgeDays: number | undefined },
  outcome: HTMLElement,
  refresh: () => void,
) {
  const request = {
    hardDelete: options.hard,
    purgeInactiveOlderThan:
      options.purgeDays === undefined ? undefined : durationFromMs(options.purgeDays * 86_400_000),
  };
  fill(outcome, h("p", { class: "loading" }, "Counting what cleanup would do (dry run)…"));
  let dry: Awaited<ReturnType<typeof sessions.cleanup>>;
  try {
    dry = await sessions.cleanup({ ...request, dryRun: true });
  } catch (error) {
    fill(outcome, errorBox(error, "Cleanup (dry run)"));
    return;
  }
  fill(outcome);
  const expiredText = `${count(dry.expiredCount)} expired session${dry.expiredCount === 1n ? "" : "s"} will be ${options.hard ? "deleted for good" : "marked inactive"}`;
  const purgeText =
    options.purgeDays === undefined
      ? "No inactive session will be deleted."
      : `${count(dry.purgedCount)} session${dry.purgedCount === 1n ? "" : "s"} inactive for more than ${options.purgeDays} days will be deleted for good.`;
  const confirmed = await confirmAction({
    title: "Run cleanup now?",
    body: [
      `A dry run counted what this cleanup does: ${expiredText}.`,
      purgeText,
      "It runs in batches; Saves go on meanwhile.",
    ],
    action: "Run cleanup",
    danger: options.hard || options.purgeDays !== undefined,
  });
  if (!confirmed) {
    fill(outcome, doneBox("Cleanup cancelled: nothing changed."));
    return;
  }
  try {
    const done = await sessions.cleanup({ ...request, dryRun: false });
    fill(
      outcome,
      doneBox(
        `Cleanup done in ${milliseconds(done.duration)}: ${count(done.expiredCount)} expired ${options.hard ? "deleted" : "marked inactive"}, ${count(done.purgedCount)} purged.`,
      ),
    );
    refresh();
  } catch (error) {
    fill(outcome, errorBox(error, "Cleanup"));
  }
}

async function restoreNow(outcome: HTMLElement) {
  const confirmed = await confirmAction({
    title: "Restore now?",
    body: [
      "Restore reads every active, unexpired session, as an engine does when it starts, and checks that each one can be served.",
      "It changes nothing, but it reads the whole table: on a large one it takes a while and loads the database.",
    ],
    action: "Run restore",
  });
  if (!confirmed) return;
  fill(outcome, h("p", { class: "loading" }, "Restoring…"));
  try {
    const result = await sessions.restore({});
    fill(
      outcome,
      doneBox(
        `Restore done in ${milliseconds(result.duration)}: ${count(result.restoredCount)} restored, ${count(result.failedCount)} failed, ${count(result.skippedExpiredCount)} expired skipped.`,
      ),
      result.failed.length > 0 &&
        h(
          "ul",
          { class: "failures" },
          ...result.failed.map((failure) =>
            h(
              "li",
              {},
              h("a", { href: `#/session/${encodeURIComponent(failure.sessionId)}` }, failure.sessionId),
              `: ${failure.reason}`,
            ),
          ),
        ),
    );
  } catch (error) {
    fill(outcome, errorBox(error, "Restore"));
  }
}
