/**
 * The sessions table: List's keyset pages, newest first (by last update), filtered by user_id and
 * any metadata key (JSONB containment: the metadata index serves it), soft-deleted ones on demand,
 * and a jump to a session by id. Paging never counts or skips rows, so it stays fast at a million.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import type { Session } from "../../gen/isotope/session/v1/session_pb.js";
import { sessions } from "./api.js";
import { fill, h } from "./dom.js";
import { count, dateOf, instant, relative } from "./format.js";
import { errorBox, takeFlash } from "./notice.js";

/** The filters and the pages seen, kept while the console is open (back from a session returns here). */
const state = {
  userId: "",
  key: "",
  value: "",
  includeInactive: false,
  limit: 25,
  /** The token of each page seen so far: [""] is the first page. */
  tokens: [""],
  page: 0,
};

export const sessionHref = (sessionId: string) => `#/session/${encodeURIComponent(sessionId)}`;

export function sessionsTable(view: HTMLElement): void {
  const results = h("div", { class: "results" });
  fill(view, h("h1", {}, "Sessions"), takeFlash(), jumpForm(), filterForm(results), results);
  void loadPage(results);
}

function jumpForm(): HTMLElement {
  const id = h("input", { id: "jump-id", type: "text", required: true, autocomplete: "off", spellcheck: "false" });
  const form = h(
    "form",
    { class: "inline-form", role: "search", "aria-label": "Open a session by id" },
    h("label", { for: "jump-id" }, "Session id"),
    id,
    h("button", { type: "submit", class: "secondary" }, "Open"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    if (id.value !== "") window.location.hash = sessionHref(id.value);
  });
  return form;
}

function filterForm(results: HTMLElement): HTMLElement {
  const field = (id: string, label: string, value: string, hint?: string) => {
    const input = h("input", {
      id,
      type: "text",
      value,
      autocomplete: "off",
      spellcheck: "false",
      "aria-describedby": hint && `${id}-hint`,
    });
    return {
      input,
      nodes: [h("label", { for: id }, label), input, hint && h("span", { id: `${id}-hint`, class: "hint" }, hint)],
    };
  };
  const user = field("filter-user", "user_id", state.userId);
  const key = field("filter-key", "Metadata key", state.key);
  const value = field("filter-value", "equals", state.value, 'JSON (42, true, "text") or plain text');
  const inactive = h("input", { id: "filter-inactive", type: "checkbox", checked: state.includeInactive });
  const limit = h(
    "select",
    { id: "filter-limit" },
    ...[25, 50, 100].map((n) => h("option", { value: n, selected: n === state.limit }, String(n))),
  );
  const form = h(
    "form",
    { class: "filters", "aria-label": "Filter sessions" },
    h("div", { class: "field" }, ...user.nodes),
    h("div", { class: "field" }, ...key.nodes),
    h("div", { class: "field" }, ...value.nodes),
    h("div", { class: "field check" }, inactive, h("label", { for: "filter-inactive" }, "Include soft-deleted")),
    h("div", { class: "field" }, h("label", { for: "filter-limit" }, "Per page"), limit),
    h("button", { type: "submit", class: "primary" }, "Apply"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    Object.assign(state, {
      userId: user.input.value.trim(),
      key: key.input.value.trim(),
      value: value.input.value,
      includeInactive: inactive.checked,
      limit: Number(limit.value),
      tokens: [""],
      page: 0,
    });
    void loadPage(results);
  });
  return form;
}

/** user_id as text; the other key's value as JSON when it parses as JSON, else as text. */
function metadataFilter(): JsonObject | undefined {
  const filter: JsonObject = {};
  if (state.userId !== "") filter.user_id = state.userId;
  if (state.key !== "") {
    let value: JsonValue;
    try {
      value = JSON.parse(state.value) as JsonValue;
    } catch {
      value = state.value;
    }
    filter[state.key] = value;
  }
  return Object.keys(filter).length === 0 ? undefined : filter;
}

async function loadPage(results: HTMLElement): Promise<void> {
  results.setAttribute("aria-busy", "true");
  try {
    const page = await sessions.list({
      limit: state.limit,
      pageToken: state.tokens[state.page] ?? "",
      includeInactive: state.includeInactive,
      metadataFilter: metadataFilter(),
    });
    if (page.nextPageToken !== "") state.tokens[state.page + 1] = page.nextPageToken;
    else state.tokens.length = state.page + 1;
    fill(results, table(page.sessions), pager(results, page.nextPageToken !== ""));
  } catch (error) {
    fill(results, errorBox(error, "List"));
  } finally {
    results.removeAttribute("aria-busy");
  }
}

function table(rows: Session[]): HTMLElement {
  if (rows.length === 0)
    return h("p", { class: "empty" }, state.page === 0 ? "No sessions match." : "No more sessions.");
  const head = ["Session id", "user_id", "Messages", "Version", "Last updated", "Expires", "State"];
  return h(
    "table",
    { class: "sessions" },
    h("caption", { tabindex: -1 }, `Sessions, most recently updated first — page ${state.page + 1}`),
    h("thead", {}, h("tr", {}, ...head.map((name) => h("th", { scope: "col" }, name)))),
    h(
      "tbody",
      {},
      ...rows.map((row) => {
        const updated = dateOf(row.lastUpdated) as Date;
        const expires = dateOf(row.expiresAt);
        const user = row.metadata?.user_id;
        return h(
          "tr",
          { "data-session": row.sessionId },
          h("td", {}, h("a", { href: sessionHref(row.sessionId) }, row.sessionId)),
          h("td", {}, user === undefined ? "—" : typeof user === "string" ? user : JSON.stringify(user)),
          h("td", { class: "number" }, count(row.messageCount)),
          h("td", { class: "number" }, String(row.version)),
          h("td", {}, h("time", { datetime: updated.toISOString(), title: instant(updated) }, relative(updated))),
          h(
            "td",
            {},
            expires === undefined
              ? "never"
              : h("time", { datetime: expires.toISOString(), title: instant(expires) }, relative(expires)),
          ),
          h(
            "td",
            {},
            h(
              "span",
              { class: `badge ${row.isActive ? "active" : "inactive"}` },
              row.isActive ? "active" : "soft-deleted",
            ),
          ),
        );
      }),
    ),
  );
}

function pager(results: HTMLElement, hasNext: boolean): HTMLElement {
  const go = (page: number) => () => {
    state.page = page;
    void loadPage(results).then(() => results.querySelector<HTMLElement>("caption")?.focus());
  };
  return h(
    "nav",
    { class: "pager", "aria-label": "Pages" },
    h(
      "button",
      { type: "button", class: "secondary", disabled: state.page === 0, onclick: go(state.page - 1) },
      "← Newer",
    ),
    h("span", {}, `Page ${state.page + 1}`),
    h("button", { type: "button", class: "secondary", disabled: !hasNext, onclick: go(state.page + 1) }, "Older →"),
  );
}
