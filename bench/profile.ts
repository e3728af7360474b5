/**
 * Summarises V8 CPU profiles (`--cpu-prof`): self time by function and by package, so the RPC
 * layer's cost can be read next to the database driver's.
 * Usage: tsx bench/profile.ts DIR [top=25]
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

interface Node {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}
interface Profile {
  nodes: Node[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

const dir = process.argv[2] as string;
const top = Number(process.argv[3] ?? 25);
const byFunction = new Map<string, number>();
const byPackage = new Map<string, number>();
let total = 0;

for (const file of readdirSync(dir).filter((name) => name.endsWith(".cpuprofile"))) {
  const profile = JSON.parse(readFileSync(join(dir, file), "utf8")) as Profile;
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
  profile.samples.forEach((id, i) => {
    const node = nodes.get(id) as Node;
    const micros = profile.timeDeltas[i] ?? 0;
    const { functionName, url, lineNumber } = node.callFrame;
    if (functionName === "(idle)") return;
    total += micros;
    const where = url.replace(/^file:\/\//, "").replace(process.cwd(), ".");
    const key = `${functionName || "(anonymous)"} ${where.split("/node_modules/").pop()}:${lineNumber + 1}`;
    byFunction.set(key, (byFunction.get(key) ?? 0) + micros);
    const pkg = where.includes("/node_modules/")
      ? (where
          .split("/node_modules/")
          .pop()
          ?.split("/")
          .slice(0, where.includes("/node_modules/@") ? 2 : 1)
          .join("/") ?? "?")
      : where.startsWith("node:") || where === ""
        ? functionName.startsWith("(")
          ? functionName
          : "node internals"
        : where.startsWith("./")
          ? where.split("/").slice(0, 2).join("/")
          : "other";
    byPackage.set(pkg, (byPackage.get(pkg) ?? 0) + micros);
  });
}

const print = (title: string, map: Map<string, number>, n: number) => {
  console.log(`\n${title} (busy ${(total / 1000).toFixed(0)} ms)`);
  for (const [key, micros] of [...map].sort((a, b) => b[1] - a[1]).slice(0, n)) {
    console.log(
      `${((100 * micros) / total).toFixed(1).padStart(5)} %  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`,
    );
  }
};
print("self time by package", byPackage, 20);
print("self time by function", byFunction, top);
