/**
 * "Did you mean …?" for a misspelt name: the known name nearest to it, when one is near enough to
 * be what was meant. Used for config sections and keys, environment variables and flags.
 */

/**
 * The known name nearest to `name`, or undefined when none is close. Close means a few edits away
 * (Damerau–Levenshtein, at most a third of the longer name: `prot` → `port`, `postgres` →
 * `postgresql`), or sharing a leading word of three letters or more (`hostname` → `host`,
 * `pool_size` → `pool_max`). Case is ignored; words are separated by `_`, `-` or `.`.
 */
export function nearestName(name: string, known: Iterable<string>): string | undefined {
  const wanted = name.toLowerCase();
  let best: { name: string; distance: number } | undefined;
  for (const candidate of known) {
    const lower = candidate.toLowerCase();
    const distance = editDistance(wanted, lower);
    const close = distance <= Math.floor(Math.max(wanted.length, lower.length) / 3) || sharesLeadingWord(wanted, lower);
    if (close && (best === undefined || distance < best.distance)) best = { name: candidate, distance };
  }
  return best?.name;
}

/** ", did you mean `x`?" when a known name is near, else "" — for the end of a problem. */
export function didYouMean(name: string, known: Iterable<string>, spell: (name: string) => string = (n) => n): string {
  const nearest = nearestName(name, known);
  return nearest === undefined ? "" : `; did you mean \`${spell(nearest)}\`?`;
}

/**
 * Edits (insert, delete, substitute, swap two neighbours) that turn `a` into `b`: the optimal
 * string alignment distance, a swap counting as one edit since `prot` is one slip from `port`.
 */
export function editDistance(a: string, b: string): number {
  // rows[i][j] = distance between the first i characters of a and the first j of b.
  const rows = Array.from({ length: a.length + 1 }, (_, i) =>
    Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)),
  );
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let distance = Math.min(rows[i - 1][j] + 1, rows[i][j - 1] + 1, rows[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        distance = Math.min(distance, rows[i - 2][j - 2] + 1);
      }
      rows[i][j] = distance;
    }
  }
  return rows[a.length][b.length];
}

/** One is the other plus more (`host`, `hostname`), or both begin with the same word (`pool_…`). */
function sharesLeadingWord(a: string, b: string): boolean {
  const shorter = a.length <= b.length ? a : b;
  const longer = shorter === a ? b : a;
  if (shorter.length >= 3 && longer.startsWith(shorter)) return true;
  const first = a.split(/[-_.]/)[0];
  return first.length >= 3 && b.split(/[-_.]/)[0] === first;
}
