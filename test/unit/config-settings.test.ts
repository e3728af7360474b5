// The settings table, row by row: every setting is read from each source in order of precedence,
// its default follows its own rules, and each kind is read as the table says.
import { describe, expect, it } from "vitest";
import { readSetting } from "../../src/config/read-setting.js";
import { type Setting, type SettingName, settings } from "../../src/config/settings.js";
import { readSources } from "../../src/config/sources.js";

const flagNames = Object.values(settings).map((setting) => setting.flag);
const hash = (digit: string) => digit.repeat(64);

/** Reads `setting` from literal sources; `file` is the value under its YAML path. */
function read<S extends Setting>(setting: S, from: { argv?: string[]; env?: Record<string, string>; file?: unknown }) {
  const [section, key] = setting.file;
  const yaml = from.file === undefined ? "" : `${section}:\n  ${key}: ${JSON.stringify(from.file)}\n`;
  const problems: string[] = [];
  const value = readSetting(
    setting,
    readSources(from.env ?? {}, from.argv ?? [], () => yaml, flagNames, problems),
    problems,
  );
  return { value, problems };
}

/** A value as each source writes it, and what it reads as: [flag, env, file]. */
type Samples = [written: unknown, reads: unknown][];

function samplesFor(name: SettingName, setting: Setting): Samples {
  const special: Partial<Record<SettingName, Samples>> = {
    databaseUrl: [
      ["postgres://flag", "postgres://flag"],
      ["postgresql://env", "postgresql://env"],
      ["postgres://file", "postgres://file"],
    ],
    listenUrl: [
      ["postgres://flag", "postgres://flag"],
      ["postgresql://env", "postgresql://env"],
      ["postgres://file", "postgres://file"],
    ],
    logLevel: [
      ["debug", "debug"],
      ["warn", "warn"],
      ["error", "error"],
    ],
    logFormat: [
      ["pretty", "pretty"],
      ["json", "json"],
      ["auto", "auto"],
    ],
  };
  switch (setting.kind) {
    case "string":
      return special[name] ?? (["from_flag", "from_env", "from_file"].map((s) => [s, s]) as Samples);
    case "int": {
      const [a, b, c] = [setting.min + 3, setting.min + 2, setting.min + 1];
      return [
        [String(a), a],
        [String(b), b],
        [c, c],
      ];
    }
    case "bool":
      return [
        ["yes", true],
        ["off", false],
        [true, true],
      ];
    case "list":
      return [
        ["a, b", ["a", "b"]],
        ["c", ["c"]],
        [
          ["d", "e"],
          ["d", "e"],
        ],
      ];
    case "tokens":
      return [
        [`f:read:${hash("1")}`, [{ name: "f", role: "read", sha256: hash("1") }]],
        [`e:write:${hash("2")}`, [{ name: "e", role: "write", sha256: hash("2") }]],
        [[{ name: "y", role: "admin", sha256: hash("3") }], [{ name: "y", role: "admin", sha256: hash("3") }]],
      ];
  }
}

describe("every setting", () => {
  for (const [name, setting] of Object.entries(settings) as [SettingName, Setting][]) {
    it(`${name}: --${setting.flag} over ${setting.env} over ${setting.file.join(".")} over its default`, () => {
      const [[flag, fromFlag], [env, fromEnv], [file, fromFile]] = samplesFor(name, setting) as [
        [string, unknown],
        [string, unknown],
        [unknown, unknown],
      ];
      const argv = [`--${setting.flag}`, flag];
      const environment = { [setting.env]: env };
      expect(read(setting, { argv, env: environment, file })).toEqual({ value: fromFlag, problems: [] });
      expect(read(setting, { env: environment, file })).toEqual({ value: fromEnv, problems: [] });
      expect(read(setting, { file })).toEqual({ value: fromFile, problems: [] });
      expect(read(setting, {})).toEqual({ value: setting.default, problems: [] });
    });

    if (setting.default !== undefined) {
      it(`${name}: its default, ${JSON.stringify(setting.default)}, follows its own rules`, () => {
        expect(read(setting, { file: setting.default })).toEqual({ value: setting.default, problems: [] });
      });
    }
  }

  it("hands out a fresh copy of a default list", () => {
    const value = read(settings.corsOrigins, {}).value;
    value.push("https://changed.example");
    expect(settings.corsOrigins.default).toEqual([]);
  });
});

describe("kinds", () => {
  it("int: a decimal or a YAML integer within the setting's bounds, the source named in the problem", () => {
    expect(read(settings.port, { env: { PORT: " 8080 " } }).value).toBe(8080);
    expect(read(settings.port, { argv: ["--port", "65536"] }).problems).toEqual([
      '--port: "65536" is not an integer from 0 to 65535',
    ]);
    expect(read(settings.poolMax, { file: 0 }).problems).toEqual(['storage.pool_max: "0" is not an integer ≥ 1']);
    expect(read(settings.poolMax, { file: 1.5 }).problems).toEqual(['storage.pool_max: "1.5" is not an integer ≥ 1']);
    expect(read(settings.poolMax, { env: { ISOTOPE_POOL_MAX: "1e3" } }).problems).toHaveLength(1);
  });

  it("bool: true/1/yes/on and false/0/no/off, in any case", () => {
    for (const yes of ["true", "1", "YES", "On"])
      expect(read(settings.authProtectHealth, { file: yes }).value).toBe(true);
    for (const no of ["false", "0", "no", "OFF", false]) {
      expect(read(settings.authProtectHealth, { file: no }).value).toBe(false);
    }
    expect(read(settings.authProtectHealth, { file: "maybe" }).problems).toEqual([
      'auth.protect_health: "maybe" is not true or false',
    ]);
  });

  it("list: comma-separated or a YAML list of strings, blank items dropped", () => {
    expect(read(settings.corsOrigins, { env: { ISOTOPE_CORS_ORIGINS: " https://a.example, ,* " } }).value).toEqual([
      "https://a.example",
      "*",
    ]);
    expect(read(settings.corsOrigins, { file: ["https://a.example", " "] }).value).toEqual(["https://a.example"]);
    expect(read(settings.corsOrigins, { file: [{ origin: "x" }] }).problems).toEqual([
      "server.cors_origins: expected a list of strings",
    ]);
  });

  it("string: checked by the setting's rule, never echoing a database URL", () => {
    expect(read(settings.table, { argv: ["--table", "Bad Name"] }).problems).toEqual([
      '--table: "Bad Name" is not a valid table name (lower-case letters, digits and _ only, not starting with a digit, at most 55 characters)',
    ]);
    expect(read(settings.logLevel, { env: { LOG_LEVEL: "loud" } }).problems).toEqual([
      'LOG_LEVEL: "loud" is not one of fatal, error, warn, info, debug, trace, silent',
    ]);
    const url = read(settings.databaseUrl, { env: { DATABASE_URL: "mysql://u:secret@h/db" } });
    expect(url.problems).toEqual(["DATABASE_URL: expected postgres://user@host:port/db"]);
  });
});
