/** Building the page from data without markup strings: text is always text, never HTML. */

type Child = Node | string | number | false | null | undefined;
type Props = Record<string, string | number | boolean | undefined | EventListener>;

/** An element with attributes (`on…` functions become listeners) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  props: Props = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (typeof value === "function") element.addEventListener(name.slice(2), value);
    else if (value === true) element.setAttribute(name, "");
    else if (value !== undefined && value !== false) element.setAttribute(name, String(value));
  }
  element.append(...children.filter((child) => child !== false && child !== null && child !== undefined).map(toNode));
  return element;
}

const toNode = (child: Child): Node | string => (child instanceof Node ? child : String(child));

const svgNs = "http://www.w3.org/2000/svg";

/** An SVG element with attributes and children. */
export function s(tag: string, attributes: Record<string, string | number> = {}, ...children: Child[]): SVGElement {
  const element = document.createElementNS(svgNs, tag) as SVGElement;
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  element.append(...children.filter((child) => child !== false && child !== null && child !== undefined).map(toNode));
  return element;
}

/** Replaces an element's children. */
export function fill(element: Element, ...children: Child[]): void {
  element.replaceChildren(
    ...children.filter((child) => child !== false && child !== null && child !== undefined).map(toNode),
  );
}
