// The descriptor sets with comments (source info) that reflection serves, one per contract file
// and beside its generated code: gen/isotope/session/v1/session.binpb, gen/isotope/admin/v1/admin.binpb.
// One file each, so a change to one contract leaves the other's set as it was. Run by
// `npm run generate` (into gen/) and by check-gen.mjs (into its scratch directory).
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export const contracts = ["isotope/session/v1/session", "isotope/admin/v1/admin"];

export function buildDescriptorSets(root, out) {
  for (const contract of contracts) {
    execFileSync(
      join(root, "node_modules/.bin/buf"),
      [
        "build",
        "proto",
        "--path",
        `proto/${contract}.proto`,
        "--as-file-descriptor-set",
        "-o",
        join(out, `${contract}.binpb`),
      ],
      { cwd: root, stdio: "inherit" },
    );
  }
}

if (process.argv[1] === new URL(import.meta.url).pathname) {
  const root = new URL("..", import.meta.url).pathname;
  buildDescriptorSets(root, join(root, process.argv[2] ?? "gen"));
}
