// Reading GET /metrics as Prometheus would: scrape the text, pick a sample by name and labels, and
// check it with Debian's promtool (package `prometheus`, scripts/prerequisites.sh installs it).
import { spawnSync } from "node:child_process";

/** One scrape of `url`/metrics: its status, content type and text. */
export async function scrape(url: string, token?: string): Promise<{ status: number; type: string; text: string }> {
  const response = await fetch(`${url}/metrics`, {
    headers: token === undefined ? {} : { authorization: `Bearer ${token}` },
  });
  return { status: response.status, type: response.headers.get("content-type") ?? "", text: await response.text() };
}

/**
 * The sum of the samples named `name` whose labels include `labels` (0 when there is none), so a
 * test asks for "Load calls answered NotFound over gRPC" without naming every label.
 */
export function sample(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (match === null || match[1] !== name) continue;
    const found = new Map([...(match[2] ?? "").matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    if (Object.entries(labels).every(([key, value]) => found.get(key) === value)) sum += Number(match[3]);
  }
  return sum;
}

/** Whether a sample named `name` (with these labels) is present at all. */
export const hasSample = (text: string, name: string, labels: Record<string, string> = {}): boolean =>
  text.split("\n").some((line) => {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) return false;
    return Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`));
  });

/** Runs `promtool <args>` with `input` on stdin: its exit code and everything it printed. */
export function promtool(args: string[], input?: string): { status: number | null; output: string } {
  const run = spawnSync("promtool", args, { input, encoding: "utf8" });
  if (run.error !== undefined)
    throw new Error(`promtool did not run (is Debian's prometheus installed?): ${run.error}`);
  return { status: run.status, output: `${run.stdout}${run.stderr}` };
}
