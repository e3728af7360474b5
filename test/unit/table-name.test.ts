// The table name is the one identifier interpolated into SQL: one rule, used by config at start-up
// and by the migrations before they run.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";
import { assertTableName, isTableName } from "../../src/db/table-name.js";

const good = ["isotope_sessions", "_t", "a", "s2", "a".repeat(55)];
const bad = ["", "A", "Sessions", "1abc", "a".repeat(56), "sessions-v2", "x; drop table y", "public.t", 'q"t', "é"];

describe("the table-name rule", () => {
  it("accepts plain lower-case identifiers of at most 55 characters", () => {
    for (const name of good) expect(assertTableName(name)).toBe(name);
    for (const name of bad) expect(() => assertTableName(name)).toThrow(`invalid table name "${name}"`);
  });

  it("is the rule configuration applies: a name config accepts is one the database accepts", () => {
    const configAccepts = (name: string) => {
      try {
        return loadConfig({}, [`--table=${name}`], () => undefined).table === name;
      } catch (error) {
        if (error instanceof ConfigError) return false;
        throw error;
      }
    };
    for (const name of [...good, ...bad]) expect(configAccepts(name), name).toBe(isTableName(name));
  });
});
