/**
 * Configuration: one table of settings, each readable from a command-line flag, an environment
 * variable and config/config.yaml, in that order of precedence, else its default.
 * `loadConfig` is pure apart from the injected file reader: tests build configs directly.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse as parseYaml } from "yaml";
import type { DatabaseConfig } from "../db/open.js";

/** What a bearer token may call (src/auth.ts has the table of methods per role). */
export type Role = "read" | "write" | "admin";
export const roles: readonly Role[] = ["read", "write", "admin"];

/** A bearer token as configured: its SHA-256, never the token itself. */
export interface TokenConfig {
  /** Names the caller in logs and errors; unique. */
  name: string;
  role: Role;
  /** SHA-256 of the token, 64 lower-case hex digits (`npm run hash-token`). */
  sha256: string;
}

export interface AuthConfig {
  /** Empty = access control off: every call is allowed. */
  tokens: TokenConfig[];
  /** Health checks need a valid token (any role) too. */
  protectHealth: boolean;
  /** Reflection needs a valid token (any role) too. */
  protectReflection: boolean;
}

/** PEM file paths; TLS is on when certFile (and keyFile) are set, mutual TLS with clientCaFile. */
export interface TlsConfig {
  certFile: string;
  keyFile: string;
  clientCaFile: string | undefined;
}

export interface Config {
  host: string | undefined;
  port: number;
  database: DatabaseConfig;
  table: string;
  limits: Limits;
  shutdownGraceMs: number;
  /** Browser origins allowed to call (CORS); empty = none, "*" = any. */
  corsOrigins: string[];
  /** Memory for the hot cache of sessions, in bytes (0 = off). */
  cacheBytes: number;
  /** Concurrent Saves written together (see src/sessions/group-commit.ts). */
  groupCommit: { maxBatch: number; windowMs: number };
  /** Where blind Saves are journaled while the database is unavailable; undefined = no spool. */
  spoolDir: string | undefined;
  logLevel: string;
  auth: AuthConfig;
  /** Undefined = cleartext. */
  tls: TlsConfig | undefined;
  /** The config file that was read, if any (for the start-up log). */
  configFile: string | undefined;
}

export interface Limits {
  /** Largest session_data accepted by Save, as UTF-8 JSON bytes (RESOURCE_EXHAUSTED above). */
  maxSessionBytes: number;
  /**
   * Deepest nesting of objects and arrays accepted in data and metadata. Each JSON level is two
   * protobuf message levels (Value, then Struct or ListValue) and standard decoders — protobuf-es,
   * C++, Python — stop at 100 levels: past ~48 a session is stored but clients cannot read it.
   */
  maxDepth: number;
  /** Largest request message the server reads off the wire. */
  maxReceiveBytes: number;
}

/** "raw" hands the value over as found (a YAML list stays a list) for a dedicated parser. */
type Kind = "string" | "int" | "bool" | "raw";
interface Setting {
  /** Flag without the leading dashes. */
  flag: string;
  env: string;
  /** Path in config.yaml. */
  file: readonly [string, string];
  kind: Kind;
  min?: number;
}

/** Every setting the service reads; README's configuration reference mirrors this table. */
export const settings = {
  port: { flag: "port", env: "PORT", file: ["server", "port"], kind: "int", min: 0 },
  host: { flag: "host", env: "HOST", file: ["server", "host"], kind: "string" },
  shutdownGraceMs: {
    flag: "shutdown-grace-ms",
    env: "ISOTOPE_SHUTDOWN_GRACE_MS",
    file: ["server", "shutdown_grace_ms"],
    kind: "int",
    min: 0,
  },
  databaseUrl: { flag: "database-url", env: "DATABASE_URL", file: ["storage", "database_url"], kind: "string" },
  dataDir: { flag: "data-dir", env: "ISOTOPE_DATA_DIR", file: ["storage", "data_dir"], kind: "string" },
  spoolDir: { flag: "spool-dir", env: "ISOTOPE_SPOOL_DIR", file: ["storage", "spool_dir"], kind: "string" },
  table: { flag: "table", env: "ISOTOPE_TABLE", file: ["storage", "table"], kind: "string" },
  poolMax: { flag: "pool-max", env: "ISOTOPE_POOL_MAX", file: ["storage", "pool_max"], kind: "int", min: 1 },
  statementTimeoutMs: {
    flag: "statement-timeout-ms",
    env: "ISOTOPE_STATEMENT_TIMEOUT_MS",
    file: ["storage", "statement_timeout_ms"],
    kind: "int",
    min: 1,
  },
  connectTimeoutMs: {
    flag: "connect-timeout-ms",
    env: "ISOTOPE_CONNECT_TIMEOUT_MS",
    file: ["storage", "connect_timeout_ms"],
    kind: "int",
    min: 1,
  },
  cacheBytes: {
    flag: "cache-bytes",
    env: "ISOTOPE_CACHE_BYTES",
    file: ["storage", "cache_bytes"],
    kind: "int",
    min: 0,
  },
  groupCommitMaxBatch: {
    flag: "group-commit-max-batch",
    env: "ISOTOPE_GROUP_COMMIT_MAX_BATCH",
    file: ["storage", "group_commit_max_batch"],
    kind: "int",
    min: 1,
  },
  groupCommitWindowMs: {
    flag: "group-commit-window-ms",
    env: "ISOTOPE_GROUP_COMMIT_WINDOW_MS",
    file: ["storage", "group_commit_window_ms"],
    kind: "int",
    min: 0,
  },
  maxSessionBytes: {
    flag: "max-session-bytes",
    env: "ISOTOPE_MAX_SESSION_BYTES",
    file: ["limits", "max_session_bytes"],
    kind: "int",
    min: 1,
  },
  maxDepth: { flag: "max-depth", env: "ISOTOPE_MAX_DEPTH", file: ["limits", "max_depth"], kind: "int", min: 1 },
  maxReceiveBytes: {
    flag: "max-receive-bytes",
    env: "ISOTOPE_MAX_RECEIVE_BYTES",
    file: ["limits", "max_receive_bytes"],
    kind: "int",
    min: 1024,
  },
  logLevel: { flag: "log-level", env: "LOG_LEVEL", file: ["log", "level"], kind: "string" },
  corsOrigins: { flag: "cors-origins", env: "ISOTOPE_CORS_ORIGINS", file: ["server", "cors_origins"], kind: "string" },
  authTokens: { flag: "auth-tokens", env: "ISOTOPE_AUTH_TOKENS", file: ["auth", "tokens"], kind: "raw" },
  authProtectHealth: {
    flag: "auth-protect-health",
    env: "ISOTOPE_AUTH_PROTECT_HEALTH",
    file: ["auth", "protect_health"],
    kind: "bool",
  },
  authProtectReflection: {
    flag: "auth-protect-reflection",
    env: "ISOTOPE_AUTH_PROTECT_REFLECTION",
    file: ["auth", "protect_reflection"],
    kind: "bool",
  },
  tlsCertFile: { flag: "tls-cert-file", env: "ISOTOPE_TLS_CERT_FILE", file: ["tls", "cert_file"], kind: "string" },
  tlsKeyFile: { flag: "tls-key-file", env: "ISOTOPE_TLS_KEY_FILE", file: ["tls", "key_file"], kind: "string" },
  tlsClientCaFile: {
    flag: "tls-client-ca-file",
    env: "ISOTOPE_TLS_CLIENT_CA_FILE",
    file: ["tls", "client_ca_file"],
    kind: "string",
  },
} as const satisfies Record<string, Setting>;

export const defaults = {
  port: 50051,
  shutdownGraceMs: 10_000,
  dataDir: "./data",
  table: "isotope_sessions",
  poolMax: 10,
  statementTimeoutMs: 30_000,
  connectTimeoutMs: 5_000,
  cacheBytes: 64 * 1024 * 1024,
  groupCommitMaxBatch: 64,
  groupCommitWindowMs: 0,
  maxSessionBytes: 8 * 1024 * 1024,
  maxDepth: 32,
  maxReceiveBytes: 16 * 1024 * 1024,
  logLevel: "info",
};

const defaultConfigFile = "config/config.yaml";

/** Thrown with every problem found, one per line, so an operator fixes them all at once. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join("\n  ")}`);
  }
}

type ReadFile = (path: string) => string | undefined;

const readIfExists: ReadFile = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
};

/**
 * Builds the configuration from flags (`--port 50052` or `--port=50052`), environment and the
 * YAML file (`--config`, else ISOTOPE_CONFIG, else config/config.yaml when it exists).
 * The seed's `postgresql:` block (host, port, user, password, database) selects PostgreSQL;
 * DATABASE_URL / --database-url overrides it; with neither the embedded database is used.
 */
export function loadConfig(
  env: Record<string, string | undefined>,
  argv: readonly string[],
  readFile: ReadFile = readIfExists,
): Config {
  const problems: string[] = [];
  const flags = parseFlags(argv, problems);
  const explicitFile = flags.get("config") ?? env.ISOTOPE_CONFIG;
  const configFile = explicitFile ?? defaultConfigFile;
  const text = readFile(configFile);
  if (text === undefined && explicitFile !== undefined) problems.push(`config file ${configFile} not found`);
  const file = text === undefined ? {} : parseFile(text, configFile, problems);

  const known = new Set<string>(["config", ...Object.values(settings).map((s) => s.flag)]);
  for (const flag of flags.keys()) if (!known.has(flag)) problems.push(`unknown flag --${flag}`);

  const read = <K extends keyof typeof settings>(key: K) => readSetting(settings[key], flags, env, file, problems);
  const str = (key: keyof typeof settings) => read(key) as string | undefined;
  const int = (key: keyof typeof settings) => read(key) as number | undefined;

  const database = databaseConfig(
    file,
    {
      url: str("databaseUrl"),
      dataDir: str("dataDir") ?? defaults.dataDir,
      poolMax: int("poolMax") ?? defaults.poolMax,
      statementTimeoutMs: int("statementTimeoutMs") ?? defaults.statementTimeoutMs,
      connectTimeoutMs: int("connectTimeoutMs") ?? defaults.connectTimeoutMs,
    },
    problems,
  );

  const table = str("table") ?? defaults.table;
  const spoolDir = str("spoolDir");
  if (!/^[a-z_][a-z0-9_]{0,54}$/.test(table)) {
    problems.push(`table: "${table}" is not a valid table name (lower-case letters, digits, _; at most 55)`);
  }
  const logLevel = str("logLevel") ?? defaults.logLevel;
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(logLevel)) {
    problems.push(`log level: "${logLevel}" is not one of fatal, error, warn, info, debug, trace, silent`);
  }
  const auth: AuthConfig = {
    tokens: authTokens(readSource(settings.authTokens, flags, env, file), problems),
    protectHealth: (read("authProtectHealth") as boolean | undefined) ?? false,
    protectReflection: (read("authProtectReflection") as boolean | undefined) ?? false,
  };
  const tls = tlsConfig(str("tlsCertFile"), str("tlsKeyFile"), str("tlsClientCaFile"), problems);
  const port = int("port") ?? defaults.port;
  if (port > 65535) problems.push(`port: ${port} is not a TCP port`);

  const limits: Limits = {
    maxSessionBytes: int("maxSessionBytes") ?? defaults.maxSessionBytes,
    maxDepth: int("maxDepth") ?? defaults.maxDepth,
    maxReceiveBytes: int("maxReceiveBytes") ?? defaults.maxReceiveBytes,
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return {
    host: str("host"),
    port,
    database,
    table,
    limits,
    shutdownGraceMs: int("shutdownGraceMs") ?? defaults.shutdownGraceMs,
    corsOrigins: listOf(read("corsOrigins")),
    cacheBytes: int("cacheBytes") ?? defaults.cacheBytes,
    groupCommit: {
      maxBatch: int("groupCommitMaxBatch") ?? defaults.groupCommitMaxBatch,
      windowMs: int("groupCommitWindowMs") ?? defaults.groupCommitWindowMs,
    },
    spoolDir: spoolDir === undefined ? undefined : resolve(spoolDir),
    logLevel,
    auth,
    tls,
    configFile: text === undefined ? undefined : configFile,
  };
}

type FileTree = Record<string, unknown>;

/** A comma-separated string (flag, environment) or a YAML list, as a list of non-empty items. */
function listOf(value: unknown): string[] {
  const items = Array.isArray(value) ? value.map(String) : value === undefined ? [] : String(value).split(",");
  return items.map((item) => item.trim()).filter((item) => item.length > 0);
}

function parseFlags(argv: readonly string[], problems: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    const match = /^--([a-z][a-z0-9-]*)(?:=(.*))?$/.exec(arg);
    if (!match) {
      problems.push(`unexpected argument "${arg}"`);
      continue;
    }
    const [, name, inline] = match as unknown as [string, string, string | undefined];
    const value = inline ?? argv[i + 1];
    if (value === undefined || (inline === undefined && value.startsWith("--"))) {
      problems.push(`flag --${name} needs a value`);
      continue;
    }
    if (inline === undefined) i++;
    flags.set(name, value);
  }
  return flags;
}

function parseFile(text: string, path: string, problems: string[]): FileTree {
  try {
    const tree = parseYaml(text) as unknown;
    if (tree === null || tree === undefined) return {};
    if (typeof tree !== "object" || Array.isArray(tree)) {
      problems.push(`${path}: expected a mapping at the top level`);
      return {};
    }
    return tree as FileTree;
  } catch (error) {
    problems.push(`${path}: ${(error as Error).message.split("\n")[0]}`);
    return {};
  }
}

function fileValue(file: FileTree, [section, key]: readonly [string, string]): unknown {
  const block = file[section];
  return block !== null && typeof block === "object" ? (block as FileTree)[key] : undefined;
}

/** The first source that sets `setting`, named as an operator would write it, with its value. */
function readSource(
  setting: Setting,
  flags: Map<string, string>,
  env: Record<string, string | undefined>,
  file: FileTree,
): [source: string, value: unknown] | undefined {
  const sources: Array<[string, unknown]> = [
    [`--${setting.flag}`, flags.get(setting.flag)],
    [setting.env, env[setting.env] === "" ? undefined : env[setting.env]],
    [setting.file.join("."), fileValue(file, setting.file)],
  ];
  return sources.find(([, value]) => value !== undefined && value !== null);
}

function readSetting(
  setting: Setting,
  flags: Map<string, string>,
  env: Record<string, string | undefined>,
  file: FileTree,
  problems: string[],
): string | number | boolean | undefined {
  const found = readSource(setting, flags, env, file);
  if (!found) return undefined;
  const [source, value] = found;
  if (setting.kind === "string") return String(value);
  if (setting.kind === "raw") return value as string;
  if (setting.kind === "bool") {
    const text = String(value).trim().toLowerCase();
    if (["true", "1", "yes", "on"].includes(text)) return true;
    if (["false", "0", "no", "off"].includes(text)) return false;
    problems.push(`${source}: "${String(value)}" is not true or false`);
    return undefined;
  }
  const number = typeof value === "number" ? value : /^\s*-?\d+\s*$/.test(String(value)) ? Number(value) : Number.NaN;
  if (!Number.isSafeInteger(number) || number < (setting.min ?? 0)) {
    problems.push(`${source}: "${String(value)}" is not an integer ≥ ${setting.min ?? 0}`);
    return undefined;
  }
  return number;
}

interface StorageSettings {
  url: string | undefined;
  dataDir: string;
  poolMax: number;
  statementTimeoutMs: number;
  connectTimeoutMs: number;
}

function databaseConfig(file: FileTree, storage: StorageSettings, problems: string[]): DatabaseConfig {
  const pool = {
    poolMax: storage.poolMax,
    statementTimeoutMs: storage.statementTimeoutMs,
    connectTimeoutMs: storage.connectTimeoutMs,
  };
  if (storage.url !== undefined) {
    if (!/^postgres(ql)?:\/\//.test(storage.url)) problems.push("database url: expected postgres://user@host:port/db");
    return { kind: "postgres", connectionString: storage.url, ...pool };
  }
  const seed = file.postgresql;
  if (seed !== null && typeof seed === "object") {
    const block = seed as FileTree;
    const port = block.port === undefined ? 5432 : Number(block.port);
    if (!Number.isInteger(port) || port <= 0 || port > 65535)
      problems.push(`postgresql.port: "${block.port}" is not a port`);
    const text = (key: string) => (block[key] === undefined || block[key] === null ? undefined : String(block[key]));
    return {
      kind: "postgres",
      host: text("host") ?? "localhost",
      port,
      user: text("user"),
      password: text("password"),
      database: text("database"),
      ...pool,
    };
  }
  return { kind: "embedded", dataDir: resolve(storage.dataDir) };
}

/**
 * Bearer tokens from YAML (`auth.tokens: [{name, role, sha256}]`) or a flag / the environment
 * ("name:role:sha256hex,name2:role:sha256hex"). Problems name the source and the token's
 * position, never echo a value that might be a token pasted by mistake.
 */
function authTokens(found: [string, unknown] | undefined, problems: string[]): TokenConfig[] {
  if (!found) return [];
  const [source, value] = found;
  let entries: unknown[];
  if (typeof value === "string") {
    entries = listOf(value).map((item) => {
      const [name, role, sha256, ...rest] = item.split(":");
      return rest.length > 0 ? { name, role, sha256: "(too many fields)" } : { name, role, sha256 };
    });
  } else if (Array.isArray(value)) {
    entries = value;
  } else {
    problems.push(`${source}: expected a list of {name, role, sha256}`);
    return [];
  }
  const tokens: TokenConfig[] = [];
  const names = new Set<string>();
  // One token under two names would take whichever role comes first: refuse the ambiguity.
  const hashes = new Map<string, string>();
  entries.forEach((entry, i) => {
    const where = `${source}[${i}]`;
    const { name, role, sha256 } = (entry ?? {}) as Record<string, unknown>;
    const problemsBefore = problems.length;
    if (typeof name !== "string" || !/^[\w.@-]{1,64}$/.test(name)) {
      problems.push(`${where}: name must be 1-64 letters, digits, _ . @ -`);
    } else if (names.has(name)) {
      problems.push(`${where}: duplicate token name "${name}"`);
    } else {
      names.add(name);
    }
    if (!roles.includes(role as Role)) problems.push(`${where}: role must be one of ${roles.join(", ")}`);
    if (typeof sha256 !== "string" || !/^[0-9a-fA-F]{64}$/.test(sha256)) {
      problems.push(`${where}: sha256 must be 64 hex digits, the SHA-256 of the token (npm run hash-token)`);
    } else {
      const first = hashes.get(sha256.toLowerCase());
      if (first !== undefined) problems.push(`${where}: same sha256 as ${first}: one token, one name`);
      else hashes.set(sha256.toLowerCase(), where);
    }
    if (problems.length === problemsBefore) {
      tokens.push({ name: name as string, role: role as Role, sha256: (sha256 as string).toLowerCase() });
    }
  });
  return tokens;
}

function tlsConfig(
  certFile: string | undefined,
  keyFile: string | undefined,
  clientCaFile: string | undefined,
  problems: string[],
): TlsConfig | undefined {
  if (certFile === undefined && keyFile === undefined) {
    if (clientCaFile !== undefined) problems.push("tls.client_ca_file: needs tls.cert_file and tls.key_file");
    return undefined;
  }
  if (certFile === undefined) problems.push("tls.cert_file: needed with tls.key_file");
  if (keyFile === undefined) problems.push("tls.key_file: needed with tls.cert_file");
  if (certFile === undefined || keyFile === undefined) return undefined;
  return {
    certFile: resolve(certFile),
    keyFile: resolve(keyFile),
    clientCaFile: clientCaFile === undefined ? undefined : resolve(clientCaFile),
  };
}
