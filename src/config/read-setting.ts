/**
 * One setting's value: the first source that sets it (flag, environment, YAML), read as its kind
 * and checked against its rules, else its default. Problems name the source as the operator wrote
 * it (`--port`, `PORT`, `server.port`).
 */
import { parseAuthTokens } from "./auth-tokens.js";
import {
  type Kind,
  type KindValues,
  type Setting,
  type SettingValue,
  type SettingValues,
  settings,
} from "./settings.js";
import { commaSeparated, type Found, findValue, type Sources } from "./sources.js";

/** Every setting of the table, read in its order; a value with a problem reads as its default. */
export function readSettings(sources: Sources, problems: string[]): SettingValues {
  const entries = Object.entries(settings).map(([name, setting]) => [name, readSetting(setting, sources, problems)]);
  return Object.fromEntries(entries) as SettingValues;
}

/**
 * How each kind is written: `string` as is; `int` in decimal (a YAML number too); `bool` as
 * true/1/yes/on or false/0/no/off; `list` comma-separated, or a YAML list of strings; `tokens`
 * as auth-tokens.ts says.
 */
export function readSetting<S extends Setting>(setting: S, sources: Sources, problems: string[]): SettingValue<S> {
  const found = findValue(setting, sources);
  const value = found === undefined ? undefined : interpret(setting, found, problems);
  // A copy, so that no caller can change the table's default lists.
  return (value ?? (Array.isArray(setting.default) ? [...setting.default] : setting.default)) as SettingValue<S>;
}

function interpret(setting: Setting, found: Found, problems: string[]): KindValues[Kind] | undefined {
  const problem = (text: string) => {
    problems.push(`${found.source}: ${text}`);
    return undefined;
  };
  switch (setting.kind) {
    case "string": {
      const text = String(found.value);
      const broken = setting.check?.(text);
      return broken === undefined ? text : problem(broken);
    }
    case "int": {
      const { value } = found;
      const number =
        typeof value === "number" ? value : /^\s*-?\d+\s*$/.test(String(value)) ? Number(value) : Number.NaN;
      const { min, max } = setting;
      if (Number.isSafeInteger(number) && number >= min && (max === undefined || number <= max)) return number;
      return problem(
        `"${String(value)}" is not an integer ${max === undefined ? `≥ ${min}` : `from ${min} to ${max}`}`,
      );
    }
    case "bool": {
      const text = String(found.value).trim().toLowerCase();
      if (["true", "1", "yes", "on"].includes(text)) return true;
      if (["false", "0", "no", "off"].includes(text)) return false;
      return problem(`"${String(found.value)}" is not true or false`);
    }
    case "list": {
      const { value } = found;
      if (!Array.isArray(value)) return commaSeparated(String(value));
      if (!value.every((item) => typeof item === "string")) return problem("expected a list of strings");
      return value.map((item: string) => item.trim()).filter((item) => item.length > 0);
    }
    case "tokens":
      return parseAuthTokens(found, problems);
  }
}
