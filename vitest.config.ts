import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts", "packages/*/test/**/*.test.ts"],
    // The process-level suites run the compiled service: build dist/ before any test.
    globalSetup: ["test/support/build-service.ts"],
    // Suites boot real servers and databases; two cores, so keep parallelism modest.
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: "forks",
    maxWorkers: 2,
  },
});
