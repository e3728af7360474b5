// Start-up time: milliseconds from spawning the service to its "serving" log line, on the embedded
// database — N runs each with a fresh data directory, then N with an existing one — and the CPU
// time its processes (npm, tsc, esbuild included) had used by then, which a busy machine disturbs
// less than the wall clock. The command is given after `--` and run in the current directory with
// `--port P --data-dir D` appended:
//   node scripts/startup-time.mjs 3 -- node dist/src/main.js
//   node scripts/startup-time.mjs 3 -- npm start --
import { spawn } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

const separator = process.argv.indexOf("--");
const runs = Number(process.argv[2] === "--" ? 3 : process.argv[2]);
const command = process.argv.slice(separator + 1);
if (separator < 0 || command.length === 0 || !(runs > 0)) {
  console.error("usage: node scripts/startup-time.mjs [runs] -- command [args...]");
  process.exit(2);
}

const freePort = () =>
  new Promise((resolve) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** CPU ms used so far by the processes of a group (children it has waited for included). */
function groupCpuMs(group) {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
      // After "pid (comm) ": state ppid pgrp …; utime stime cutime cstime are fields 14–17 of stat.
      if (Number(fields[2]) === group) ticks += fields.slice(11, 15).reduce((sum, n) => sum + Number(n), 0);
    } catch {
      // the process ended between listing and reading
    }
  }
  return ticks * 10; // USER_HZ is 100
}

/** One start: ms and CPU ms until "serving", then SIGTERM to the whole process group and wait. */
async function timeOnce(dataDir) {
  const { DATABASE_URL: _, ...env } = process.env;
  const started = performance.now();
  const args = [...command.slice(1), "--port", String(await freePort()), "--data-dir", dataDir];
  const child = spawn(command[0], args, { env, detached: true, stdio: ["ignore", "pipe", "inherit"] });
  const exited = new Promise((resolve) => child.once("exit", resolve));
  let output = "";
  const figures = await new Promise((resolve, reject) => {
    child.stdout.on("data", (chunk) => {
      output += chunk;
      if (/"msg":"serving"/.test(output)) resolve({ wall: performance.now() - started, cpu: groupCpuMs(child.pid) });
    });
    void exited.then((code) => reject(new Error(`exited with ${code} before serving:\n${output}`)));
  });
  process.kill(-child.pid, "SIGTERM");
  await exited;
  return figures;
}

const scratch = mkdtempSync(join(tmpdir(), "isotope-startup-"));
try {
  const fresh = [];
  for (let i = 0; i < runs; i++) fresh.push(await timeOnce(join(scratch, `fresh-${i}`)));
  const existing = [];
  for (let i = 0; i < runs; i++) existing.push(await timeOnce(join(scratch, "fresh-0")));
  const show = (figures) => figures.map(({ wall, cpu }) => `${Math.round(wall)} (cpu ${cpu})`).join(", ");
  console.log(
    `${command.join(" ")}\n  fresh data dir:    ${show(fresh)} ms\n  existing data dir: ${show(existing)} ms`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
