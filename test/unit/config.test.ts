// loadConfig is pure: configurations are built from literal env, argv and file text.
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/load-config.js";
import { settings } from "../../src/config/settings.js";

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

  it("schedules cleanup every 10 minutes by default, marking expired sessions and purging nothing", () => {
    expect(loadConfig({}, [], noFile)).toMatchObject({
      replicaName: undefined,
      cleanup: {
        intervalMs: 600_000,
        leaseMs: 60_000,
        hardDelete: false,
        purgeInactiveAfterMs: undefined,
        batchSize: 1000,
        sampleRetentionMs: 90 * 86_400_000,
      },
    });
    const yaml = file("cleanup:\n  interval_ms: 0\n  purge_inactive_days: 30\n  hard_delete: true\n");
    expect(loadConfig({ ISOTOPE_CLEANUP_SAMPLE_RETENTION_DAYS: "7" }, ["--replica-name", "pod-a"], yaml)).toMatchObject(
      {
        replicaName: "pod-a",
        cleanup: {
          intervalMs: 0,
          hardDelete: true,
          purgeInactiveAfterMs: 30 * 86_400_000,
          sampleRetentionMs: 7 * 86_400_000,
        },
      },
    );
    expect(() =>
      loadConfig(
        { ISOTOPE_CLEANUP_BATCH_SIZE: "0", ISOTOPE_CLEANUP_INTERVAL_MS: "-1" },
        ["--replica-name", "a b"],
        noFile,
      ),
    ).toThrow(
      /--replica-name: .*no spaces[\s\S]*ISOTOPE_CLEANUP_INTERVAL_MS: "-1"[\s\S]*ISOTOPE_CLEANUP_BATCH_SIZE: "0" is not an integer from 1 to 10000/,
    );
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

  it("lists problems from flags, environment and file together, in one error", () => {
    const yaml = file("server:\n  cors_origins: [{ origin: x }]\npostgresql:\n  port: 99999\n");
    expect(() => loadConfig({ ISOTOPE_MAX_DEPTH: "deep" }, ["--port=70000", "stray"], yaml)).toThrow(
      new ConfigError([
        'unexpected argument "stray"',
        '--port: "70000" is not an integer from 0 to 65535',
        'ISOTOPE_MAX_DEPTH: "deep" is not an integer ≥ 1',
        "server.cors_origins: expected a list of strings",
        'postgresql.port: "99999" is not a port',
      ]),
    );
  });

  it("reads CORS origins comma-separated or as a YAML list", () => {
    expect(loadConfig({ ISOTOPE_CORS_ORIGINS: "https://a.example, *" }, [], noFile).corsOrigins).toEqual([
      "https://a.example",
      "*",
    ]);
    const yaml = file("server:\n  cors_origins:\n    - https://a.example\n    - https://b.example\n");
    expect(loadConfig({}, [], yaml).corsOrigins).toEqual(["https://a.example", "https://b.example"]);
  });

  it("refuses a postgresql block that is not a mapping", () => {
    expect(() => loadConfig({}, [], file("postgresql: localhost\n"))).toThrow(
      /postgresql: expected a mapping of host, port, user, password, database/,
    );
  });

  it("refuses a named config file that does not exist", () => {
    expect(() => loadConfig({ ISOTOPE_CONFIG: "nope.yaml" }, [], noFile)).toThrow(/nope.yaml not found/);
  });

  describe("access control and TLS", () => {
    const hash = "a".repeat(64);
    const other = "B".repeat(64);

    it("is off by default: no tokens, health, reflection and metrics open, cleartext", () => {
      const config = loadConfig({}, [], noFile);
      expect(config.auth).toEqual({
        tokens: [],
        protectHealth: false,
        protectReflection: false,
        protectMetrics: false,
      });
      expect(config.tls).toBeUndefined();
    });

    it("reads tokens from YAML and from ISOTOPE_AUTH_TOKENS, hashes lower-cased", () => {
      const yaml = file(
        `auth:\n  protect_health: true\n  tokens:\n    - { name: engine, role: write, sha256: ${hash} }\n    - { name: ops, role: admin, sha256: ${other} }\n`,
      );
      const fromFile = loadConfig({}, [], yaml);
      expect(fromFile.auth).toEqual({
        tokens: [
          { name: "engine", role: "write", sha256: hash },
          { name: "ops", role: "admin", sha256: other.toLowerCase() },
        ],
        protectHealth: true,
        protectReflection: false,
        protectMetrics: false,
      });
      const fromEnv = loadConfig(
        {
          ISOTOPE_AUTH_TOKENS: `viewer:read:${hash}`,
          ISOTOPE_AUTH_PROTECT_REFLECTION: "yes",
          ISOTOPE_AUTH_PROTECT_METRICS: "true",
        },
        [],
        yaml,
      );
      expect(fromEnv.auth).toEqual({
        tokens: [{ name: "viewer", role: "read", sha256: hash }],
        protectHealth: true,
        protectReflection: true,
        protectMetrics: true,
      });
    });

    it("refuses a bad role, a hash that is not 64 hex digits and a duplicate name, naming the setting", () => {
      let error: unknown;
      try {
        loadConfig(
          {
            ISOTOPE_AUTH_TOKENS: `a:read:${hash},b:root:${other},a:write:${hash.slice(1)}0,c:read:not-a-hash`,
            ISOTOPE_AUTH_PROTECT_HEALTH: "maybe",
          },
          [],
          noFile,
        );
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(ConfigError);
      const problems = (error as ConfigError).problems;
      expect(problems).toEqual([
        "ISOTOPE_AUTH_TOKENS[1]: role must be one of read, write, admin",
        'ISOTOPE_AUTH_TOKENS[2]: duplicate token name "a"',
        "ISOTOPE_AUTH_TOKENS[3]: sha256 must be 64 hex digits, the SHA-256 of the token (npm run hash-token)",
        'ISOTOPE_AUTH_PROTECT_HEALTH: "maybe" is not true or false',
      ]);
      // A value pasted by mistake (a raw token, say) is never echoed back.
      expect(problems.join("\n")).not.toContain("not-a-hash");
    });

    it("refuses one token configured under two names, whatever the case of its hash", () => {
      const yaml = file(
        `auth:\n  tokens:\n    - { name: engine, role: read, sha256: ${hash} }\n    - { name: ops, role: admin, sha256: ${hash.toUpperCase()} }\n`,
      );
      expect(() => loadConfig({}, [], yaml)).toThrow(
        new ConfigError(["auth.tokens[1]: same sha256 as auth.tokens[0]: one token, one name"]),
      );
    });

    it("accepts what `npm run hash-token` prints, from an argument or from stdin", async () => {
      const token = "engine-token-from-the-vault";
      const run = (args: string[], input?: string) =>
        new Promise<{ code: number | null; stdout: string }>((resolve) => {
          const child = execFile(process.execPath, ["scripts/hash-token.mjs", ...args], (error, stdout) =>
            resolve({ code: error ? (error.code as number) : 0, stdout }),
          );
          child.stdin?.end(input);
        });
      const expected = `${createHash("sha256").update(token).digest("hex")}\n`;
      expect(await run([token])).toEqual({ code: 0, stdout: expected });
      // `openssl rand -hex 32 | tee token | npm run -s hash-token`: the newline is not the token's.
      expect(await run([], `${token}\n`)).toEqual({ code: 0, stdout: expected });
      expect((await run([], "")).code).toBe(2);
      const config = loadConfig({ ISOTOPE_AUTH_TOKENS: `engine:write:${expected.trim()}` }, [], noFile);
      expect(config.auth.tokens).toEqual([{ name: "engine", role: "write", sha256: expected.trim() }]);
    });

    it("refuses auth.tokens that is not a list", () => {
      expect(() => loadConfig({}, [], file("auth:\n  tokens: { name: x }\n"))).toThrow(
        /auth.tokens: expected a list of \{name, role, sha256\}/,
      );
    });

    it("turns TLS on with a certificate and key, mutual TLS with a client CA", () => {
      const tls = loadConfig({ ISOTOPE_TLS_CERT_FILE: "/etc/isotope/cert.pem" }, ["--tls-key-file", "/k.pem"], noFile);
      expect(tls.tls).toEqual({ certFile: "/etc/isotope/cert.pem", keyFile: "/k.pem", clientCaFile: undefined });
      const mutual = loadConfig(
        {},
        [],
        file("tls:\n  cert_file: /c.pem\n  key_file: /k.pem\n  client_ca_file: /ca.pem\n"),
      );
      expect(mutual.tls).toEqual({ certFile: "/c.pem", keyFile: "/k.pem", clientCaFile: "/ca.pem" });
    });

    it("refuses a certificate without a key, a key without a certificate, a client CA alone", () => {
      expect(() => loadConfig({ ISOTOPE_TLS_CERT_FILE: "/c.pem" }, [], noFile)).toThrow(
        /tls.key_file: needed with tls.cert_file/,
      );
      expect(() => loadConfig({ ISOTOPE_TLS_KEY_FILE: "/k.pem" }, [], noFile)).toThrow(
        /tls.cert_file: needed with tls.key_file/,
      );
      expect(() => loadConfig({ ISOTOPE_TLS_CLIENT_CA_FILE: "/ca.pem" }, [], noFile)).toThrow(
        /tls.client_ca_file: needs tls.cert_file and tls.key_file/,
      );
    });
  });

  it("is documented: README's configuration reference has a row for every setting, with its default", () => {
    const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");
    const rows = Object.values(settings).map((s) => {
      // An unset default or an empty list reads in words there ("none", "all interfaces" …).
      const scalar = s.default === undefined || Array.isArray(s.default) ? "" : ` ${s.default}`;
      return `| \`--${s.flag}\` | \`${s.env}\` | \`${s.file.join(".")}\` |${scalar}`;
    });
    expect(rows.filter((row) => !readme.includes(row))).toEqual([]);
  });
});
