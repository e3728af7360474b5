/**
 * Strictness: a name the service does not know is a mistake, never silently ignored — a section or
 * key in config.yaml, or an environment variable in the service's ISOTOPE_ namespace. (Flags are
 * checked as they are parsed: sources.ts.) Each problem names the nearest known name when one is
 * close, so `postgres:` for `postgresql:` is a one-line fix rather than a day on the wrong database.
 */
import { seedBlockKeys } from "./database-settings.js";
import { didYouMean } from "./nearest-name.js";
import { settings } from "./settings.js";
import { configFileEnv, type Environment, mappingOrUndefined } from "./sources.js";

const prefix = "ISOTOPE_";

/**
 * ISOTOPE_ variables that other programs read, so that one shell or container may hold both:
 * exact names, and prefixes ending in `_`. README "Configuration" lists them.
 */
export const environmentOfOthers: readonly string[] = [
  // scripts/healthcheck.mjs, the container's health check: ISOTOPE_HEALTHCHECK_TOKEN, …
  "ISOTOPE_HEALTHCHECK_",
  // The Python drop-in (clients/python): ISOTOPE_SESSIONS_TARGET, ISOTOPE_SESSIONS_TOKEN, …
  "ISOTOPE_SESSIONS_",
  // The TypeScript client's README example: `token: process.env.ISOTOPE_TOKEN`.
  "ISOTOPE_TOKEN",
];

/** Section → its keys, as config.yaml writes them; `postgresql` is the seed's block. */
function fileLayout(): Map<string, string[]> {
  const layout = new Map<string, string[]>([["postgresql", [...seedBlockKeys]]]);
  for (const { file } of Object.values(settings)) {
    const [section, key] = file;
    layout.set(section, [...(layout.get(section) ?? []), key]);
  }
  return layout;
}

/** Every unknown section and key of the YAML file, and every section that is not a mapping. */
export function checkFileNames(
  file: Readonly<Record<string, unknown>>,
  path: string | undefined,
  problems: string[],
): void {
  const where = path === undefined ? "" : ` in ${path}`;
  const layout = fileLayout();
  for (const [section, value] of Object.entries(file)) {
    const keys = layout.get(section);
    if (keys === undefined) {
      const hint = didYouMean(section, layout.keys()) || `; the sections are ${[...layout.keys()].join(", ")}`;
      problems.push(`${section}: unknown section${where}${hint}`);
      continue;
    }
    // An empty section (every key commented out) is fine.
    if (value === null) continue;
    const mapping = mappingOrUndefined(value);
    if (mapping === undefined) {
      // database-settings.ts already says so for the postgresql block.
      if (section !== "postgresql") problems.push(`${section}: expected a mapping of ${keys.join(", ")}`);
      continue;
    }
    for (const key of Object.keys(mapping)) {
      if (keys.includes(key)) continue;
      const hint =
        didYouMean(key, keys, (known) => `${section}.${known}`) || `; ${section}'s keys are ${keys.join(", ")}`;
      problems.push(`${section}.${key}: unknown key${where}${hint}`);
    }
  }
}

/**
 * Every set ISOTOPE_ variable that is neither a setting, nor ISOTOPE_CONFIG, nor another program's
 * (`environmentOfOthers`). An empty one counts as unset, as it does for settings.
 */
export function checkEnvironmentNames(env: Environment, problems: string[]): void {
  const known = [configFileEnv, ...Object.values(settings).map((setting) => setting.env)];
  const isOthers = (name: string) =>
    environmentOfOthers.some((other) => (other.endsWith("_") ? name.startsWith(other) : name === other));
  // Compared without the prefix, so ISOTOPE_PORT finds PORT and ISOTOPE_POOL_SIZE finds ISOTOPE_POOL_MAX.
  const bare = new Map(known.map((name) => [name.startsWith(prefix) ? name.slice(prefix.length) : name, name]));
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined || value === "" || known.includes(name) || isOthers(name)) {
      continue;
    }
    const hint =
      didYouMean(name.slice(prefix.length), bare.keys(), (nearest) => bare.get(nearest) ?? nearest) ||
      '; README "Configuration" lists the settings';
    problems.push(`${name}: not a setting${hint}`);
  }
}
