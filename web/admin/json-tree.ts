/**
 * A JSON value as a tree of <details>: objects and arrays open and close (keyboard: Enter or Space
 * on the summary), the first levels open; scalars shown as JSON.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import { h } from "./dom.js";

export function jsonTree(value: JsonValue, openDepth = 1, label?: string, depth = 0): HTMLElement {
  const key = label === undefined ? [] : [h("span", { class: "json-key" }, label), ": "];
  if (value === null || typeof value !== "object") {
    return h(
      "div",
      { class: "json-leaf" },
      ...key,
      h("span", { class: `json-${typeOf(value)}` }, JSON.stringify(value)),
    );
  }
  const entries: [string, JsonValue][] = Array.isArray(value)
    ? value.map((item, index) => [String(index), item])
    : Object.entries(value);
  const shape = Array.isArray(value) ? `[${entries.length} items]` : `{${entries.length} keys}`;
  if (entries.length === 0) return h("div", { class: "json-leaf" }, ...key, Array.isArray(value) ? "[]" : "{}");
  return h(
    "details",
    { class: "json-node", open: depth < openDepth },
    h("summary", {}, ...key, h("span", { class: "json-shape" }, shape)),
    h("div", { class: "json-children" }, ...entries.map(([name, item]) => jsonTree(item, openDepth, name, depth + 1))),
  );
}

const typeOf = (value: JsonValue) => (value === null ? "null" : typeof value);
