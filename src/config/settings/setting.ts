/**
 * What one row of the settings table is: where an operator sets it (flag, environment variable,
 * path in config.yaml), what kind of value it takes, the rules that value must follow, and its
 * default.
 */
import type { TokenConfig } from "../auth-tokens.js";
import type { SettingAddress } from "../sources.js";

/** What each kind of setting is once read (read-setting.ts says how each is written). */
export interface KindValues {
  string: string;
  int: number;
  bool: boolean;
  list: string[];
  tokens: TokenConfig[];
}

export type Kind = keyof KindValues;

/** Rules a value must follow beyond its kind; a value breaking one is a problem. */
interface Rules {
  string: {
    /** The problem with `value` (without the setting's name), or undefined when it is fine. */
    check?: (value: string) => string | undefined;
  };
  int: { min: number; max?: number };
  bool: unknown;
  list: unknown;
  tokens: unknown;
}

type SettingOf<K extends Kind> = SettingAddress & {
  kind: K;
  /** What the service uses when no source sets it; undefined = off, or chosen elsewhere. */
  default: KindValues[K] | undefined;
} & Rules[K];

/** One row of the table. */
export type Setting = { [K in Kind]: SettingOf<K> }[Kind];

/** A setting's value: its kind's type, or undefined too when it has no default. */
export type SettingValue<S extends Setting> =
  | KindValues[S["kind"]]
  | (undefined extends S["default"] ? undefined : never);
