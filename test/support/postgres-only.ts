// Tests that need a PostgreSQL server run only when DATABASE_URL names one (CI always sets it).
// Without one they are reported as skipped, with the reason — never left out in silence.
import { beforeEach, describe, it } from "vitest";
import { postgresUrl } from "./databases.js";

/** The reason vitest shows beside each such test (`--reporter=verbose`, and in JSON and JUnit reports). */
export const needsPostgres = "needs PostgreSQL: set DATABASE_URL";

/**
 * Called in a describe: each of its tests skips itself, with the reason (and `why`, when given),
 * when DATABASE_URL is unset. Its beforeAll and afterAll still run and must check `postgresUrl`.
 */
export function skipEachWithoutPostgres(why?: string): void {
  const reason = why === undefined ? needsPostgres : `${needsPostgres} (${why})`;
  beforeEach((context) => context.skip(!postgresUrl, reason));
}

/**
 * Beside a block that exists only with PostgreSQL (`if (postgresUrl) describe(name, …)`): without
 * DATABASE_URL, one skipped test under the same name says what did not run and why.
 */
export function reportSkippedWithoutPostgres(name: string): void {
  if (postgresUrl) return;
  describe(name, () => it("runs only on PostgreSQL", (context) => context.skip(needsPostgres)));
}
