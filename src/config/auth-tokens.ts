/**
 * Bearer tokens as configured: what they look like in each source and the rules they follow. The
 * auth interceptor (src/rpc/interceptors/auth.ts) holds what each role may call.
 */
import { commaSeparated, type Found } from "./sources.js";

/** What a bearer token may call. */
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
  /** GET /metrics needs a valid token (any role) too; absent = false. */
  protectMetrics?: boolean;
}

/**
 * Tokens from YAML (`auth.tokens: [{name, role, sha256}]`) or a flag / the environment
 * ("name:role:sha256hex,name2:role:sha256hex"); hashes lower-cased. Problems name the source and
 * the token's position, never echo a value that might be a token pasted by mistake; a token with a
 * problem is left out.
 */
export function parseAuthTokens({ source, value }: Found, problems: string[]): TokenConfig[] {
  let entries: unknown[];
  if (typeof value === "string") {
    entries = commaSeparated(value).map((item) => {
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
