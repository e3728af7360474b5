// Where values come from: flags (node:util parseArgs, every mistake reported), the environment and
// the YAML file, and which of them wins.
import { describe, expect, it } from "vitest";
import { findValue, readSources } from "../../src/config/sources.js";

const flagNames = ["port", "table", "max-depth"];
const noFile = () => undefined;

function flagsOf(argv: string[]) {
  const problems: string[] = [];
  const { flags } = readSources({}, argv, noFile, flagNames, problems);
  return { flags: Object.fromEntries(flags), problems };
}

describe("flags", () => {
  it("take their value after a space or after =, the last of a repeated flag winning", () => {
    expect(flagsOf(["--port", "50052", "--table=t"])).toEqual({ flags: { port: "50052", table: "t" }, problems: [] });
    expect(flagsOf(["--port=1", "--port", "2"]).flags).toEqual({ port: "2" });
  });

  it("keep a value that starts with one dash or is empty, for the setting to judge", () => {
    expect(flagsOf(["--max-depth", "-1", "--table="]).flags).toEqual({ "max-depth": "-1", table: "" });
  });

  it("report a flag without a value, at the end or before the next flag, and read on", () => {
    expect(flagsOf(["--table", "t", "--port"])).toEqual({
      flags: { table: "t" },
      problems: ["flag --port needs a value"],
    });
    expect(flagsOf(["--port", "--table", "t", "--max-depth", "3"])).toEqual({
      flags: { table: "t", "max-depth": "3" },
      problems: ["flag --port needs a value"],
    });
  });

  it("report every unknown flag and stray argument, without throwing", () => {
    expect(flagsOf(["--bogus", "1", "--port", "2", "--other=x", "-p", "3", "serve", "--", "--table"])).toEqual({
      flags: { port: "2" },
      problems: [
        "unknown flag --bogus",
        "unknown flag --other",
        "unknown flag -p",
        'unexpected argument "serve"',
        'unexpected argument "--"',
        'unexpected argument "--table"',
      ],
    });
  });
});

describe("the config file", () => {
  const files = (texts: Record<string, string>) => (path: string) => texts[path];
  const read = (env: Record<string, string>, argv: string[], texts: Record<string, string>) => {
    const problems: string[] = [];
    const sources = readSources(env, argv, files(texts), flagNames, problems);
    return { configFile: sources.configFile, file: sources.file, problems };
  };

  it("is --config, else ISOTOPE_CONFIG, else config/config.yaml", () => {
    const texts = { "a.yaml": "a: 1", "b.yaml": "b: 1", "config/config.yaml": "c: 1" };
    expect(read({ ISOTOPE_CONFIG: "b.yaml" }, ["--config", "a.yaml"], texts)).toMatchObject({ file: { a: 1 } });
    expect(read({ ISOTOPE_CONFIG: "b.yaml" }, [], texts)).toMatchObject({ configFile: "b.yaml", file: { b: 1 } });
    expect(read({ ISOTOPE_CONFIG: "" }, [], texts)).toMatchObject({ configFile: "config/config.yaml" });
  });

  it("may be missing when not named, and must exist when named", () => {
    expect(read({}, [], {})).toEqual({ configFile: undefined, file: {}, problems: [] });
    expect(read({}, ["--config", "x.yaml"], {}).problems).toEqual(["config file x.yaml not found"]);
  });

  it("must be a YAML mapping; an empty file is an empty one", () => {
    const at = (text: string) => read({}, [], { "config/config.yaml": text });
    expect(at("")).toMatchObject({ file: {}, problems: [] });
    expect(at("- a\n- b\n").problems).toEqual(["config/config.yaml: expected a mapping at the top level"]);
    expect(at("server: [\n").problems).toHaveLength(1);
    expect(at("server: [\n").problems[0]).toMatch(/^config\/config.yaml: /);
  });
});

describe("findValue", () => {
  const address = { flag: "port", env: "PORT", file: ["server", "port"] as const };
  const find = (env: Record<string, string>, argv: string[], yaml: string) =>
    findValue(
      address,
      readSources(env, argv, () => yaml, flagNames, []),
    );

  it("takes the flag over the environment over the file, naming the source", () => {
    const yaml = "server:\n  port: 1\n";
    expect(find({ PORT: "2" }, ["--port", "3"], yaml)).toEqual({ source: "--port", value: "3" });
    expect(find({ PORT: "2" }, [], yaml)).toEqual({ source: "PORT", value: "2" });
    expect(find({}, [], yaml)).toEqual({ source: "server.port", value: 1 });
    expect(find({}, [], "")).toBeUndefined();
  });

  it("passes over an empty environment variable, a null in the file and a section that is not a mapping", () => {
    expect(find({ PORT: "" }, [], "server:\n  port: 1\n")).toEqual({ source: "server.port", value: 1 });
    expect(find({}, [], "server:\n  port:\n")).toBeUndefined();
    expect(find({}, [], "server: 8080\n")).toBeUndefined();
  });
});
