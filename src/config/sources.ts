/**
 * Where setting values come from — command-line flags, the environment, the YAML file — read as
 * found, each named as an operator would write it (`--port`, `PORT`, `server.port`). No value is
 * interpreted here (read-setting.ts does that); a malformed source is a problem, never a throw.
 */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { parse as parseYaml } from "yaml";
import { didYouMean } from "./nearest-name.js";

/** Returns a file's text, or undefined when there is no such file. */
export type ReadConfigFile = (path: string) => string | undefined;

/** The process environment, or a literal one in tests. */
export type Environment = Readonly<Record<string, string | undefined>>;

/** What the sources hold, ready to be searched setting by setting. */
export interface Sources {
  /** Flag name (without dashes) → value; the last of a repeated flag wins. */
  flags: ReadonlyMap<string, string>;
  env: Environment;
  /** The YAML file's top-level mapping; empty without a file. */
  file: Readonly<Record<string, unknown>>;
  /** The file that was read, if any. */
  configFile: string | undefined;
}

/** Where a setting lives in each source. */
export interface SettingAddress {
  /** Flag without the leading dashes. */
  flag: string;
  env: string;
  /** Path in the YAML file: section, key. */
  file: readonly [section: string, key: string];
}

/** A value as a source holds it, with the name of that source. */
export interface Found {
  source: string;
  value: unknown;
}

const configFileFlag = "config";
/** The one environment variable the service reads that is not a setting of its own. */
export const configFileEnv = "ISOTOPE_CONFIG";
const defaultConfigFile = "config/config.yaml";

export const readConfigFileIfExists: ReadConfigFile = (path) => {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
};

/**
 * Parses the flags (every one of `flagNames` takes a value: `--port 50052` or `--port=50052`) and
 * reads the YAML file named by `--config`, else ISOTOPE_CONFIG, else config/config.yaml when it
 * exists. Unknown flags (with the nearest known one), missing values, a named file that does not exist and YAML that does not
 * parse are pushed to `problems`.
 */
export function readSources(
  env: Environment,
  argv: readonly string[],
  readFile: ReadConfigFile,
  flagNames: readonly string[],
  problems: string[],
): Sources {
  const flags = parseFlags(argv, new Set([configFileFlag, ...flagNames]), problems);
  const namedFile = flags.get(configFileFlag) ?? nonEmpty(env[configFileEnv]);
  const path = namedFile ?? defaultConfigFile;
  const text = readFile(path);
  if (text === undefined && namedFile !== undefined) problems.push(`config file ${path} not found`);
  return {
    flags,
    env,
    file: text === undefined ? {} : parseFile(text, path, problems),
    configFile: text === undefined ? undefined : path,
  };
}

/**
 * The first source that sets the setting: flag, else environment variable (an empty one counts as
 * unset), else the YAML file (a null there too); undefined when none does.
 */
export function findValue(address: SettingAddress, sources: Sources): Found | undefined {
  const [section, key] = address.file;
  const candidates: Found[] = [
    { source: `--${address.flag}`, value: sources.flags.get(address.flag) },
    { source: address.env, value: nonEmpty(sources.env[address.env]) },
    { source: `${section}.${key}`, value: mappingOrUndefined(sources.file[section])?.[key] },
  ];
  return candidates.find(({ value }) => value !== undefined && value !== null);
}

/** A list as a flag or an environment variable writes it: comma-separated, blank items dropped. */
export function commaSeparated(text: string): string[] {
  return text
    .split(",")
    .map((item) => item.trim())
    .filter((item) => item.length > 0);
}

/** A YAML mapping as a record; undefined for anything else (a scalar, a list, null). */
export function mappingOrUndefined(value: unknown): Readonly<Record<string, unknown>> | undefined {
  return value !== null && typeof value === "object" && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;
}

/**
 * node:util's parseArgs in its lenient mode, then strict's rules applied token by token, so every
 * mistake is reported rather than the first one thrown.
 */
function parseFlags(argv: readonly string[], known: ReadonlySet<string>, problems: string[]): Map<string, string> {
  const flags = new Map<string, string>();
  const { tokens } = parseArgs({
    args: [...argv],
    options: Object.fromEntries([...known].map((name) => [name, { type: "string" as const }])),
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  let swallowIndex = -1;
  for (const token of tokens) {
    if (token.kind === "option-terminator") {
      problems.push('unexpected argument "--"');
    } else if (token.kind === "positional") {
      // An unknown flag's value, already reported with its flag.
      if (token.index !== swallowIndex) problems.push(`unexpected argument "${token.value}"`);
    } else if (!known.has(token.name)) {
      problems.push(`unknown flag ${token.rawName}${didYouMean(token.name, known, (name) => `--${name}`)}`);
      // Every flag takes a value, so `--bogus 1` is one mistake, not two.
      if (token.inlineValue === undefined) swallowIndex = token.index + 1;
    } else if (token.value === undefined) {
      problems.push(`flag ${token.rawName} needs a value`);
    } else if (token.inlineValue === false && token.value.startsWith("--")) {
      // `--port --table x`: parseArgs took `--table` as the port. Say so, and read on from it.
      problems.push(`flag ${token.rawName} needs a value`);
      for (const [name, value] of parseFlags(argv.slice(token.index + 1), known, problems)) flags.set(name, value);
      return flags;
    } else {
      flags.set(token.name, token.value);
    }
  }
  return flags;
}

function parseFile(text: string, path: string, problems: string[]): Record<string, unknown> {
  let tree: unknown;
  try {
    tree = parseYaml(text);
  } catch (error) {
    problems.push(`${path}: ${(error as Error).message.split("\n")[0]}`);
    return {};
  }
  if (tree === null || tree === undefined) return {};
  const mapping = mappingOrUndefined(tree);
  if (mapping === undefined) problems.push(`${path}: expected a mapping at the top level`);
  return mapping ?? {};
}

function nonEmpty(value: string | undefined): string | undefined {
  return value === "" ? undefined : value;
}
