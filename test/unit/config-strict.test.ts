// Strict configuration: a name the service does not know — a section or key of config.yaml, an
// ISOTOPE_ environment variable, a flag — is refused with the nearest known name, all at once.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";
import { editDistance, nearestName } from "../../src/config/nearest-name.js";

const noFile = () => undefined;
const file = (text: string) => (path: string) => (path === "config/config.yaml" ? text : undefined);

function problemsOf(env: Record<string, string>, argv: string[], readFile: (path: string) => string | undefined) {
  try {
    loadConfig(env, argv, readFile);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe("a misspelt name in config.yaml", () => {
  it("is refused, every one of them, each with the name that was meant", () => {
    const yaml = file(
      "postgres:\n  host: db\nserver:\n  prot: 50052\nstorage:\n  pool_size: 20\n  table: t\nlogging:\n  level: debug\n",
    );
    expect(problemsOf({}, [], yaml)).toEqual([
      "postgres: unknown section in config/config.yaml; did you mean `postgresql`?",
      "server.prot: unknown key in config/config.yaml; did you mean `server.port`?",
      "storage.pool_size: unknown key in config/config.yaml; did you mean `storage.pool_max`?",
      "logging: unknown section in config/config.yaml; did you mean `log`?",
    ]);
  });

  it("is refused in the seed's postgresql block too: a typo there must not reach the wrong server", () => {
    const yaml = file("postgresql:\n  hostname: db\n  user: sweet\n  pasword: pw\n");
    expect(problemsOf({}, [], yaml)).toEqual([
      "postgresql.hostname: unknown key in config/config.yaml; did you mean `postgresql.host`?",
      "postgresql.pasword: unknown key in config/config.yaml; did you mean `postgresql.password`?",
    ]);
  });

  it("lists what there is when nothing is near, and names the file it was read from", () => {
    const texts: Record<string, string> = { "mine.yaml": "metrics:\n  port: 9\nlimits:\n  bogus: 1\n" };
    expect(problemsOf({ ISOTOPE_CONFIG: "mine.yaml" }, [], (path) => texts[path])).toEqual([
      "metrics: unknown section in mine.yaml; the sections are postgresql, server, storage, limits, log, auth, cleanup, changes, tls",
      "limits.bogus: unknown key in mine.yaml; limits's keys are max_session_bytes, max_depth, max_receive_bytes",
    ]);
  });

  it("refuses a section that is not a mapping, and accepts an empty one", () => {
    expect(problemsOf({}, [], file("server: 8080\n"))).toEqual([
      "server: expected a mapping of port, host, shutdown_grace_ms, cors_origins, replica_name",
    ]);
    expect(problemsOf({}, [], file("server:\nauth:\n"))).toEqual([]);
  });

  it("leaves the example configuration, every key of it uncommented, valid", () => {
    const example = readFileSync(new URL("../../config/config.example.yaml", import.meta.url), "utf8");
    // Uncomment the commented keys (lower-case, a colon after them) and list items; prose stays.
    const uncommented = example
      .split("\n")
      .map((line) => line.replace(/^(\s*)# (\s*(?:[a-z_]+:|- \{))/, "$1$2"))
      .join("\n")
      .replaceAll("<64 hex digits>", "a".repeat(64))
      .replace(/(ops, role: admin, sha256: )a{64}/, `$1${"b".repeat(64)}`);
    expect(problemsOf({}, [], file(example))).toEqual([]);
    expect(uncommented).toMatch(/^postgresql:\n {2}host: localhost$/m);
    expect(problemsOf({}, [], file(uncommented))).toEqual([]);
  });
});

describe("an ISOTOPE_ environment variable that is no setting", () => {
  it("is refused with the setting that was meant, the prefix forgiven where the setting has none", () => {
    const env = { ISOTOPE_POOL_SIZE: "20", ISOTOPE_PORT: "1", ISOTOPE_DATABASE_URL: "postgres://x", ISOTOPE_NOPE: "1" };
    expect(problemsOf(env, [], noFile)).toEqual([
      "ISOTOPE_POOL_SIZE: not a setting; did you mean `ISOTOPE_POOL_MAX`?",
      "ISOTOPE_PORT: not a setting; did you mean `PORT`?",
      "ISOTOPE_DATABASE_URL: not a setting; did you mean `DATABASE_URL`?",
      'ISOTOPE_NOPE: not a setting; README "Configuration" lists the settings',
    ]);
  });

  it("is fine when the service or a program beside it reads it, or when it is empty", () => {
    const env = {
      ISOTOPE_CONFIG: "",
      ISOTOPE_HEALTHCHECK_TOKEN: "t",
      ISOTOPE_HEALTHCHECK_CERT_FILE: "/c.pem",
      ISOTOPE_SESSIONS_TARGET: "127.0.0.1:50051",
      ISOTOPE_SESSIONS_TOKEN: "t",
      ISOTOPE_TOKEN: "t",
      ISOTOPE_UNUSED: "",
      // Not in the service's namespace: other programs' business.
      PGHOST: "db",
      isotope_port: "1",
    };
    expect(problemsOf(env, [], noFile)).toEqual([]);
  });
});

describe("an unknown flag", () => {
  it("names the flag that was meant, when one is near", () => {
    expect(problemsOf({}, ["--prot", "1", "--database", "x", "--frobnicate=1"], noFile)).toEqual([
      "unknown flag --prot; did you mean `--port`?",
      "unknown flag --database; did you mean `--database-url`?",
      "unknown flag --frobnicate",
    ]);
  });
});

describe("the nearest name", () => {
  it("counts a swap of neighbours as one edit", () => {
    expect(editDistance("prot", "port")).toBe(1);
    expect(editDistance("postgres", "postgresql")).toBe(2);
    expect(editDistance("", "abc")).toBe(3);
    expect(editDistance("kitten", "sitting")).toBe(3);
  });

  it("is suggested only when close: a few edits, or the same leading word", () => {
    const keys = ["host", "port", "user", "password", "database"];
    expect(nearestName("prot", keys)).toBe("port");
    expect(nearestName("hostname", keys)).toBe("host");
    expect(nearestName("PASSWORD", keys)).toBe("password");
    expect(nearestName("db", keys)).toBeUndefined();
    expect(nearestName("sslmode", keys)).toBeUndefined();
    expect(nearestName("pool_size", ["pool_max", "table", "data_dir"])).toBe("pool_max");
  });
});
