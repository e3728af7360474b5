/**
 * A small hand-written line chart in SVG: series over time against a zero-based axis, with a
 * legend, a one-line summary per series for screen readers, and the figures as a table on demand.
 */
import { h, s } from "./dom.js";
import { count, instant } from "./format.js";

export interface Series {
  name: string;
  /** A stroke colour with at least 3:1 contrast on white. */
  color: string;
  values: number[];
}

export interface ChartOptions {
  id: string;
  title: string;
  /** The instant of each value, oldest first. */
  times: Date[];
  series: Series[];
  /** The time axis: the chosen range, whether or not samples cover it. */
  from: Date;
  until: Date;
}

const width = 640;
const height = 220;
const margin = { left: 64, right: 16, top: 14, bottom: 30 };

export function lineChart(options: ChartOptions): HTMLElement {
  const { times, series, from, until } = options;
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const top = niceCeiling(Math.max(1, ...series.flatMap((line) => line.values)));
  const span = Math.max(1, until.getTime() - from.getTime());
  const x = (date: Date) => margin.left + ((date.getTime() - from.getTime()) / span) * plotWidth;
  const y = (value: number) => margin.top + plotHeight - (value / top) * plotHeight;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((part) => {
    const value = top * part;
    return s(
      "g",
      { class: "tick" },
      s("line", { x1: margin.left, x2: width - margin.right, y1: y(value), y2: y(value) }),
      s("text", { x: margin.left - 6, y: y(value) + 4, "text-anchor": "end" }, compact(value)),
    );
  });
  const short = span <= 2 * 86_400_000;
  const timeLabels = [0, 0.25, 0.5, 0.75, 1].map((part) => {
    const date = new Date(from.getTime() + span * part);
    const text = short ? instant(date).slice(11, 16) : instant(date).slice(5, 10);
    const anchor = part === 0 ? "start" : part === 1 ? "end" : "middle";
    return s("text", { x: x(date), y: height - 8, "text-anchor": anchor, class: "time" }, text);
  });
  const lines = series.map((line) => {
    const points = line.values.map((value, index) => `${x(times[index] as Date).toFixed(1)},${y(value).toFixed(1)}`);
    const dots =
      line.values.length <= 60
        ? line.values.map((value, index) =>
            s("circle", { cx: x(times[index] as Date), cy: y(value), r: 2.5, fill: line.color }),
          )
        : [];
    return s(
      "g",
      { class: "series", "data-series": line.name },
      s("polyline", { points: points.join(" "), fill: "none", stroke: line.color, "stroke-width": 2 }),
      ...dots,
    );
  });
  const titleId = `${options.id}-title`;
  const svg = s(
    "svg",
    { viewBox: `0 0 ${width} ${height}`, role: "img", "aria-labelledby": titleId, class: "chart" },
    s("title", { id: titleId }, `${options.title}, ${instant(from)} to ${instant(until)}`),
    s("rect", { x: margin.left, y: margin.top, width: plotWidth, height: plotHeight, class: "plot" }),
    ...grid,
    ...timeLabels,
    ...lines,
  );
  const latest = times.length - 1;
  return h(
    "figure",
    { class: "chart-figure", id: options.id },
    h("figcaption", {}, options.title),
    svg as unknown as Node,
    h(
      "ul",
      { class: "legend" },
      ...series.map((line) =>
        h(
          "li",
          {},
          swatch(line.color),
          `${line.name}: ${count(line.values[latest] ?? 0)} now (low ${count(Math.min(...line.values))}, high ${count(Math.max(...line.values))})`,
        ),
      ),
    ),
    h(
      "details",
      { class: "chart-table" },
      h("summary", {}, "Figures as a table"),
      h(
        "table",
        {},
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            h("th", { scope: "col" }, "Taken at"),
            ...series.map((line) => h("th", { scope: "col" }, line.name)),
          ),
        ),
        h(
          "tbody",
          {},
          ...times.map((time, index) =>
            h(
              "tr",
              {},
              h("td", {}, instant(time)),
              ...series.map((line) => h("td", {}, count(line.values[index] ?? 0))),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A colour key; set through CSSOM, which the page's CSP allows where a style attribute is not. */
function swatch(color: string): HTMLElement {
  const key = h("span", { class: "swatch", "aria-hidden": "true" });
  key.style.background = color;
  return key;
}

/** The smallest 1, 2 or 5 × 10ⁿ at or above `value`. */
function niceCeiling(value: number): number {
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * magnitude >= value) return step * magnitude;
  return 10 * magnitude;
}

function compact(value: number): string {
  if (value >= 1e6) return `${+(value / 1e6).toFixed(1)}M`;
  if (value >= 1e3) return `${+(value / 1e3).toFixed(1)}k`;
  return String(+value.toFixed(1));
}
