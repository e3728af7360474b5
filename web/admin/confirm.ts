/**
 * Every action that changes something asks first, in a modal dialog that says what will happen.
 * The safe answer has the focus; Escape cancels.
 */
import { h } from "./dom.js";

export interface Confirmation {
  title: string;
  /** What will happen, in full sentences. */
  body: (Node | string)[];
  /** The button that does it: says the action ("Delete for good"), never "OK". */
  action: string;
  /** Styled as destructive. */
  danger?: boolean;
}

export function confirmAction(confirmation: Confirmation): Promise<boolean> {
  return new Promise((resolve) => {
    const cancel = h("button", { type: "button", class: "secondary" }, "Cancel");
    const go = h("button", { type: "button", class: confirmation.danger ? "danger" : "primary" }, confirmation.action);
    const dialog = h(
      "dialog",
      { class: "confirm", "aria-labelledby": "confirm-title", "aria-describedby": "confirm-body" },
      h("h2", { id: "confirm-title" }, confirmation.title),
      h(
        "div",
        { id: "confirm-body" },
        ...confirmation.body.map((part) => (typeof part === "string" ? h("p", {}, part) : part)),
      ),
      h("div", { class: "buttons" }, cancel, go),
    );
    const settle = (answer: boolean) => {
      dialog.close();
      dialog.remove();
      resolve(answer);
    };
    cancel.addEventListener("click", () => settle(false));
    go.addEventListener("click", () => settle(true));
    dialog.addEventListener("cancel", (event) => {
      event.preventDefault();
      settle(false);
    });
    document.body.append(dialog);
    dialog.showModal();
    cancel.focus();
  });
}
