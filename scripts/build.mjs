// The production build (`npm run build`; run by `npm start` and by the test run first): compiles
// src/ and gen/ to dist/src/ and dist/gen/ with `tsc -b tsconfig.build.json`, copies the files the
// code reads at run time (everything in src/ and gen/ that is not TypeScript: migrations/*.sql,
// session.binpb), and deletes outputs whose source is gone. The layout mirrors the repository, so
// relative URLs such as new URL("./migrations/", import.meta.url) resolve the same in dist/.
// Then it bundles the admin console (web/admin: TypeScript with connect-web, protobuf-es and the
// generated code) with esbuild into dist/admin/ — one script, its stylesheet and the HTML shell,
// served by src/admin/page.ts — so the running service needs none of them as dependencies.
// Incremental: with nothing changed it takes a fraction of a second, so callers build every time
// instead of trusting a dist/ that may be stale.
import { execFileSync } from "node:child_process";
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const sourceDirs = ["src", "gen"];

const filesUnder = (dir) =>
  existsSync(join(root, dir))
    ? readdirSync(join(root, dir), { recursive: true })
        .map((name) => join(dir, name))
        .filter((path) => statSync(join(root, path)).isFile())
    : [];

const isTypeScript = (path) => path.endsWith(".ts");
const sources = sourceDirs.flatMap(filesUnder);
const assets = sources.filter((path) => !isTypeScript(path));
const compiled = sources.filter((path) => isTypeScript(path) && !path.endsWith(".d.ts"));
const outputs = new Set([
  ...compiled.map((path) => join("dist", path.replace(/\.ts$/, ".js"))),
  ...assets.map((path) => join("dist", path)),
]);

// tsc -b decides up-to-date from timestamps and never notices an output deleted by hand.
const missing = compiled.some((path) => !existsSync(join(root, "dist", path.replace(/\.ts$/, ".js"))));
try {
  execFileSync(
    process.execPath,
    [join(root, "node_modules/typescript/bin/tsc"), "-b", "tsconfig.build.json", ...(missing ? ["--force"] : [])],
    { cwd: root, stdio: "inherit" },
  );
} catch {
  console.error("build failed: tsc reported the errors above; dist/ was not updated");
  process.exit(1);
}

for (const path of assets) {
  mkdirSync(dirname(join(root, "dist", path)), { recursive: true });
  copyFileSync(join(root, path), join(root, "dist", path));
}
for (const path of sourceDirs.flatMap((dir) => filesUnder(join("dist", dir)))) {
  if (!outputs.has(path)) rmSync(join(root, path));
}

const consoleSource = join(root, "web/admin");
const consoleOut = join(root, "dist/admin");
try {
  await build({
    entryPoints: [join(consoleSource, "main.ts")],
    outfile: join(consoleOut, "app.js"),
    bundle: true,
    format: "esm",
    target: "es2022",
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "warning",
    tsconfig: join(consoleSource, "tsconfig.json"),
  });
} catch {
  console.error("build failed: esbuild could not bundle the admin console (web/admin)");
  process.exit(1);
}
for (const name of ["index.html", "app.css"]) copyFileSync(join(consoleSource, name), join(consoleOut, name));
