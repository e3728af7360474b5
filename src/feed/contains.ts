/**
 * jsonb containment (`@>`) on parsed JSON, as PostgreSQL defines it: an object contains another
 * when each of the other's keys is present with a contained value; an array contains another when
 * each of the other's elements is contained in some element of it; scalars must be equal. Watch
 * filters in memory, once per event for every stream, so one reader serves all of them.
 */
export function contains(value: unknown, sub: unknown): boolean {
  if (Array.isArray(sub)) {
    return Array.isArray(value) && sub.every((wanted) => value.some((element) => contains(element, wanted)));
  }
  if (isObject(sub)) {
    return (
      isObject(value) &&
      Object.entries(sub).every(([key, wanted]) => Object.hasOwn(value, key) && contains(value[key], wanted))
    );
  }
  // Scalars (and null): jsonb's numeric comparison makes 1 and 1.0 equal, as === does on numbers.
  return !Array.isArray(value) && !isObject(value) && value === sub;
}

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === "object" && value !== null && !Array.isArray(value);
