/**
 * Every setting the service reads, one row each: its flag, environment variable and path in
 * config.yaml, what kind of value it takes and its default. The rows live in settings/, one file
 * per config.yaml section; a new setting is one new row there (and one README row:
 * test/unit/config.test.ts checks they agree). The file's `postgresql:` block, the seed's, is read
 * apart (database-settings.ts).
 */
import { authSettings } from "./settings/auth.js";
import { changesSettings } from "./settings/changes.js";
import { cleanupSettings } from "./settings/cleanup.js";
import { limitsSettings } from "./settings/limits.js";
import { logSettings } from "./settings/log.js";
import { serverSettings } from "./settings/server.js";
import type { Setting, SettingValue } from "./settings/setting.js";
import { storageSettings } from "./settings/storage.js";
import { tlsSettings } from "./settings/tls.js";

export type { Kind, KindValues, Setting, SettingValue } from "./settings/setting.js";

// The rows' order is the order settings are read in and their problems listed (config.test.ts pins
// it): sections in config.yaml's order, with the rows added to server and auth later where they
// were added.
const { corsOrigins, replicaName, ...listening } = serverSettings;
const { authProtectMetrics, ...callers } = authSettings;

/** Every setting the service reads, by the name the code uses; README's configuration reference mirrors it. */
export const settings = {
  ...listening,
  ...storageSettings,
  ...limitsSettings,
  ...logSettings,
  corsOrigins,
  ...callers,
  replicaName,
  ...cleanupSettings,
  ...changesSettings,
  authProtectMetrics,
  ...tlsSettings,
} satisfies Record<string, Setting>;

export type SettingName = keyof typeof settings;

/** Every setting's value, as read-setting.ts reads them. */
export type SettingValues = { [N in SettingName]: SettingValue<(typeof settings)[N]> };
