/**
 * One session: its figures, metadata, data as a collapsible tree, the messages from the newest
 * (Load's last_messages window, widened a page at a time) and what the token may do to it —
 * extend its expiry (Touch), soft delete, hard delete — each confirmed first.
 */
import type { JsonObject, JsonValue } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { Durability, type Session } from "../../gen/isotope/session/v1/session_pb.js";
import { type Access, sessions } from "./api.js";
import { confirmAction } from "./confirm.js";
import { fill, h } from "./dom.js";
import { count, dateOf, instant, relative } from "./format.js";
import { jsonTree } from "./json-tree.js";
import { doneBox, errorBox, setFlash, takeFlash } from "./notice.js";

const messagesPage = 20;

export function sessionPage(view: HTMLElement, access: Access, sessionId: string): void {
  let shown = messagesPage;
  const load = async (focus?: string) => {
    try {
      const { session, durability } = await sessions.load({ sessionId, includeInactive: true, lastMessages: shown });
      if (session === undefined) throw new Error("the service answered without a session");
      render(session, durability === Durability.SPOOLED);
      if (focus) view.querySelector<HTMLElement>(focus)?.focus();
    } catch (error) {
      fill(view, back(), h("h1", {}, "Session ", h("code", {}, sessionId)), takeFlash(), errorBox(error, "Load"));
    }
  };
  const olderMessages = () => {
    shown += messagesPage;
    void load("#older-messages");
  };

  const render = (session: Session, spooled: boolean) => {
    const data = (session.data ?? {}) as JsonObject;
    const messages = Array.isArray(data.messages) ? (data.messages as JsonValue[]) : [];
    const total = Number(session.messageCount);
    const { messages: _, ...rest } = data;
    const outcome = h("div", { class: "outcome", "aria-live": "polite" }, takeFlash());
    fill(
      view,
      back(),
      h(
        "h1",
        {},
        "Session ",
        h("code", {}, session.sessionId),
        " ",
        h(
          "span",
          { class: `badge ${session.isActive ? "active" : "inactive"}` },
          session.isActive ? "active" : "soft-deleted",
        ),
      ),
      outcome,
      facts(session, spooled),
      actions(session, access, outcome, () => void load()),
      h("h2", {}, "Metadata"),
      h("div", { class: "tree" }, jsonTree(session.metadata ?? {}, 2)),
      h("h2", {}, "Data"),
      h(
        "div",
        { class: "tree" },
        jsonTree(
          Array.isArray(data.messages) ? { ...rest, messages: `[${total} messages: see Messages below]` } : data,
          1,
        ),
      ),
      h("h2", { id: "messages-title" }, `Messages (${count(total)}), newest first`),
      messageList(messages, total),
      messages.length < total &&
        h(
          "button",
          { type: "button", class: "secondary", id: "older-messages", onclick: olderMessages },
          `Show ${Math.min(messagesPage, total - messages.length)} older messages`,
        ),
    );
  };
  void load();
}

const back = () => h("p", {}, h("a", { href: "#/sessions" }, "← Sessions"));

function facts(session: Session, spooled: boolean): HTMLElement {
  const time = (date: Date | undefined) =>
    date === undefined
      ? "never"
      : h("span", {}, h("time", { datetime: date.toISOString() }, instant(date)), ` (${relative(date)})`);
  const row = (term: string, value: Node | string) => [h("dt", {}, term), h("dd", { "data-fact": term }, value)];
  return h(
    "dl",
    { class: "facts" },
    ...row("Created", time(dateOf(session.createdAt))),
    ...row("Last updated", time(dateOf(session.lastUpdated))),
    ...row("Expires", time(dateOf(session.expiresAt))),
    ...row("Version", String(session.version)),
    ...row("Messages", count(session.messageCount)),
    ...row("Stored in", spooled ? "the outage spool (not yet in the database)" : "the database"),
  );
}

function messageList(messages: JsonValue[], total: number): HTMLElement {
  if (messages.length === 0) return h("p", { class: "empty" }, "No messages.");
  const first = total - messages.length;
  return h(
    "ol",
    { class: "messages", reversed: true, start: total, "aria-labelledby": "messages-title" },
    ...messages
      .map((message, index) => {
        const number = first + index + 1;
        const object = message !== null && typeof message === "object" && !Array.isArray(message) ? message : undefined;
        const role =
          typeof object?.role === "string" ? object.role : typeof object?.type === "string" ? object.type : "";
        const content = typeof object?.content === "string" ? object.content : undefined;
        return h(
          "li",
          { class: "message", value: number },
          h(
            "div",
            { class: "message-head" },
            h("span", { class: "message-number" }, `#${number}`),
            role && h("span", { class: "message-role" }, role),
          ),
          content === undefined ? jsonTree(message, 1) : h("div", { class: "message-content" }, content),
        );
      })
      .reverse(),
  );
}

function actions(session: Session, access: Access, outcome: HTMLElement, reload: () => void): HTMLElement | false {
  const id = session.sessionId;
  const buttons: HTMLElement[] = [];
  const act = async (doing: string, run: () => Promise<string>, after: () => void = reload) => {
    try {
      // The reload replaces the page: the outcome goes to the new one.
      setFlash(doneBox(await run()));
      after();
    } catch (error) {
      fill(outcome, errorBox(error, doing));
    }
  };
  if (access.can("Touch") && session.isActive) {
    const hours = h("input", { id: "touch-hours", type: "number", min: 1, value: 24, inputmode: "numeric" });
    const never = h("input", { id: "touch-never", type: "checkbox" });
    const form = h(
      "form",
      { class: "inline-form", id: "touch-form" },
      h("label", { for: "touch-hours" }, "Expire in"),
      hours,
      h("span", {}, "hours"),
      h("label", { for: "touch-never" }, never, " never expire"),
      h("button", { type: "submit", class: "primary" }, "Extend expiry…"),
    );
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const ms = Number(hours.value) * 3_600_000;
      const when = never.checked
        ? "never expire"
        : `expire ${instant(new Date(Date.now() + ms))} (in ${hours.value} hours)`;
      void confirmAction({
        title: "Extend the expiry?",
        body: [
          `Session ${id} will ${when}.`,
          "Its last-updated time moves to now; its data and version do not change.",
        ],
        action: "Extend expiry",
      }).then((yes) => {
        if (!yes) return;
        void act("Touch", async () => {
          await sessions.touch({
            sessionId: id,
            expiry: never.checked
              ? { case: "neverExpire", value: true }
              : { case: "expiresIn", value: durationFromMs(ms) },
          });
          return never.checked
            ? "Expiry removed: the session never expires."
            : `Expiry extended by ${hours.value} hours.`;
        });
      });
    });
    buttons.push(form);
  }
  if (access.can("Delete")) {
    const deleteButton = (hard: boolean) =>
      h(
        "button",
        {
          type: "button",
          class: hard ? "danger" : "secondary",
          id: hard ? "hard-delete" : "soft-delete",
          onclick: () =>
            void confirmAction({
              title: hard ? "Delete this session for good?" : "Soft-delete this session?",
              body: hard
                ? [
                    `Session ${id}, its data and its ${count(session.messageCount)} messages will be removed from the database.`,
                    "This cannot be undone.",
                  ]
                : [
                    `Session ${id} will be marked inactive: Load and List no longer return it, and engines no longer restore it.`,
                    "Its data stays; a later Save brings it back.",
                  ],
              action: hard ? "Delete for good" : "Soft-delete",
              danger: true,
            }).then((yes) => {
              if (!yes) return;
              void act(
                "Delete",
                async () => {
                  await sessions.delete({ sessionId: id, hard });
                  return hard ? `Session ${id} was deleted for good.` : `Session ${id} was soft-deleted.`;
                },
                hard ? () => (window.location.hash = "#/sessions") : reload,
              );
            }),
        },
        hard ? "Hard delete…" : "Soft delete…",
      );
    if (session.isActive) buttons.push(deleteButton(false));
    buttons.push(deleteButton(true));
  }
  return buttons.length > 0 && h("section", { class: "actions", "aria-label": "Actions" }, ...buttons);
}
