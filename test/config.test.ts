// loadConfig is pure: configurations are built from literal env, argv and file text.
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../src/config.js";

const noFile = () => undefined;
const file = (text: string) => (path: string) => (path === "config/config.yaml" ? text : undefined);

describe("loadConfig", () => {
  it("defaults to the embedded database in ./data on port 50051", () => {
    const config = loadConfig({}, [], noFile);
    expect(config.port).toBe(50051);
    expect(config.database).toMatchObject({ kind: "embedded" });
    expect(config.database.kind === "embedded" && config.database.dataDir.endsWith("/data")).toBe(true);
    expect(config.table).toBe("isotope_sessions");
  });

  it("uses the seed's postgresql block from config/config.yaml", () => {
    const config = loadConfig(
      {},
      [],
      file("postgresql:\n  host: db\n  port: 5433\n  user: sweet\n  password: pw\n  database: isotope\n"),
    );
    expect(config.database).toMatchObject({
      kind: "postgres",
      host: "db",
      port: 5433,
      user: "sweet",
      password: "pw",
      database: "isotope",
    });
  });

  it("takes flags over environment over file", () => {
    const yaml = file("server:\n  port: 1111\nstorage:\n  table: from_file\n  pool_max: 3\n");
    expect(loadConfig({}, [], yaml)).toMatchObject({ port: 1111, table: "from_file" });
    expect(loadConfig({ PORT: "2222", ISOTOPE_TABLE: "from_env" }, [], yaml)).toMatchObject({
      port: 2222,
      table: "from_env",
    });
    expect(loadConfig({ PORT: "2222" }, ["--port", "3333", "--table=from_flag"], yaml)).toMatchObject({
      port: 3333,
      table: "from_flag",
    });
    const url = loadConfig({ DATABASE_URL: "postgres://u@h/db" }, [], file("postgresql:\n  host: ignored\n"));
    expect(url.database).toMatchObject({ kind: "postgres", connectionString: "postgres://u@h/db", poolMax: 10 });
  });

  it("lists every problem at once", () => {
    let error: unknown;
    try {
      loadConfig({ PORT: "http", ISOTOPE_POOL_MAX: "0" }, ["--table", "Bad Name", "--bogus", "1"], noFile);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join("\n");
    expect(problems).toContain("PORT");
    expect(problems).toContain("ISOTOPE_POOL_MAX");
    expect(problems).toContain("table");
    expect(problems).toContain("--bogus");
  });

  it("refuses a named config file that does not exist", () => {
    expect(() => loadConfig({ ISOTOPE_CONFIG: "nope.yaml" }, [], noFile)).toThrow(/nope.yaml not found/);
  });
});
