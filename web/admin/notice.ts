/** Messages to the operator: a service error with its code, or the outcome of an action. */
import { describeError } from "./api.js";
import { h } from "./dom.js";

/** An error box saying the service's code and message; announced to screen readers. */
export function errorBox(error: unknown, doing: string): HTMLElement {
  const { code, message } = describeError(error);
  return h(
    "div",
    { class: "notice error", role: "alert" },
    h("strong", {}, `${doing} failed: `),
    h("code", { class: "code" }, code),
    " ",
    h("span", { class: "message" }, message),
  );
}

/** The outcome of an action, announced politely. */
export function doneBox(text: string): HTMLElement {
  return h("div", { class: "notice done", role: "status" }, text);
}

let flash: HTMLElement | undefined;

/** An outcome for the next view that renders (an action that reloads or leaves the page). */
export function setFlash(notice: HTMLElement): void {
  flash = notice;
}

export function takeFlash(): HTMLElement | undefined {
  const notice = flash;
  flash = undefined;
  return notice;
}
