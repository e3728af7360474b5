// The walls between the rooms, as docs/architecture.md draws them: every relative import in src/
// and packages/client/src/ goes to its own room or to one the table lists; no room uses a package
// it must not. The table is read from the document, so the document cannot drift from the code.
import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";

const root = resolve(new URL("../..", import.meta.url).pathname);

interface Room {
  path: string;
  mayImport: string[];
  mustNotUse: string[];
}

/** The rows of the rooms table: `| \`room\` | what | may import | must not use |`. */
function roomsFromDocument(): Room[] {
  const doc = readFileSync(join(root, "docs/architecture.md"), "utf8");
  const names = (cell: string) => [...cell.matchAll(/`([^`]+)`/g)].map((m) => m[1] as string);
  return doc
    .split("\n")
    .filter((line) => /^\| `(src|packages)\//.test(line))
    .map((line) => {
      const cells = line.split("|").map((cell) => cell.trim());
      return {
        path: names(cells[1] ?? "")[0] as string,
        mayImport: names(cells[3] ?? ""),
        mustNotUse: names(cells[4] ?? ""),
      };
    });
}

const sourceFiles = (dir: string): string[] =>
  readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory()
      ? sourceFiles(join(dir, entry.name))
      : entry.name.endsWith(".ts")
        ? [join(dir, entry.name)]
        : [],
  );

/** Every module a file imports: relative ones as repository paths, packages by name. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(root, file), "utf8");
  return [...text.matchAll(/(?:from|import)\s*\(?\s*"([^"]+)"/g)].map(([, spec]) =>
    (spec as string).startsWith(".")
      ? relative(root, resolve(root, dirname(file), spec as string)).replace(/\.js$/, ".ts")
      : (spec as string),
  );
}

/** The room a repository path belongs to: the longest room path that contains it. */
const roomOf = (rooms: Room[], path: string) =>
  rooms
    .filter((room) => path === room.path || path.startsWith(`${room.path}/`))
    .sort((a, b) => b.path.length - a.path.length)[0];

const within = (path: string, prefix: string) =>
  path === prefix || path.startsWith(`${prefix}/`) || path.startsWith(`${prefix}@`);

describe("the rooms of docs/architecture.md", () => {
  const rooms = roomsFromDocument();

  it("lists every room, and every source file lives in one", () => {
    expect(rooms.map((room) => room.path)).toEqual(
      expect.arrayContaining(["src/db", "src/config", "src/sessions", "src/rpc", "src/transport", "src/app.ts"]),
    );
    const homeless = [...sourceFiles("src"), ...sourceFiles("packages/client/src")].filter(
      (file) => roomOf(rooms, file) === undefined,
    );
    expect(homeless).toEqual([]);
  });

  // Every import of every source file, with the room it is made from.
  const imports = [...sourceFiles("src"), ...sourceFiles("packages/client/src")].flatMap((file) =>
    importsOf(file).map((target) => ({ file, room: roomOf(rooms, file) as Room, target })),
  );

  it("every import stays in its room or goes to one the table allows", () => {
    const crossings = imports.filter(({ room, target }) => {
      if (!/^(src|gen|packages)\//.test(target)) return false; // a package: see the next test
      const targetRoom = roomOf(rooms, target)?.path ?? (target.startsWith("gen/") ? "gen" : target);
      return targetRoom !== room.path && !room.mayImport.includes(targetRoom);
    });
    expect(crossings.map(({ file, target }) => `${file} → ${target}`)).toEqual([]);
  });

  it("no room uses a package or folder it must not", () => {
    const uses = imports.filter(({ room, target }) => room.mustNotUse.some((banned) => within(target, banned)));
    expect(uses.map(({ file, target }) => `${file} → ${target}`)).toEqual([]);
  });
});
