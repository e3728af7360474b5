/**
 * The one rule for the sessions table's name. It is the only identifier ever interpolated into
 * SQL, so it must be a plain one; config checks it at start-up and migrations again before use.
 */

/**
 * Lower-case letters, digits and `_`, not starting with a digit, at most 55 characters: the
 * table, function, trigger, index and channel names derived from it (`{table}_msg`, `{table}_ntf_i`,
 * `{table}_chg`, `{table}_jobs`, `{table}_samples`, `{table}_changes`, `{table}_feed`, `{table}_reqids`, `{table}_leases`,
 * `{table}_chseq`) then stay within PostgreSQL's 63-byte identifier limit. Index names
 * (`idx_{table}_last_updated` …) can pass it; PostgreSQL truncates them, and they still differ
 * within the first 63 bytes.
 */
const tableNamePattern = /^[a-z_][a-z0-9_]{0,54}$/;

/** The rule in words, for error messages. */
export const tableNameRule = "lower-case letters, digits and _ only, not starting with a digit, at most 55 characters";

export function isTableName(name: string): boolean {
  return tableNamePattern.test(name);
}

/** Returns `name` when it follows the rule; throws otherwise. */
export function assertTableName(name: string): string {
  if (!isTableName(name)) throw new Error(`invalid table name "${name}": ${tableNameRule}`);
  return name;
}
