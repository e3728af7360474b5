// Global setup: the suites that start the service as a process run it as production does,
// `node dist/src/main.js`. So every test run — and every rerun in watch mode — first brings dist/
// up to date with the incremental production build (scripts/build.mjs), and startService refuses
// to run when this setup did not (a config without it would test whatever dist/ happens to hold).
// A type error in src/ fails the run here, before any test starts.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import type { TestProject } from "vitest/node";

declare module "vitest" {
  export interface ProvidedContext {
    /** True once this test run has built dist/ from the current src/ and gen/. */
    serviceBuilt: boolean;
  }
}

const root = fileURLToPath(new URL("../..", import.meta.url));

function build(): void {
  execFileSync(process.execPath, ["scripts/build.mjs"], { cwd: root, stdio: "inherit" });
}

export default function setup(project: TestProject): void {
  build();
  project.provide("serviceBuilt", true);
  project.onTestsRerun(() => build());
}
