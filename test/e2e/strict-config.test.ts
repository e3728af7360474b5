// A newcomer's typo in config/config.yaml, met by the real process: exit 2 before anything opens,
// with the name that was meant on stderr — never a silent start on the embedded database.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { serviceMain } from "../support/service.js";

const scratch = mkdtempSync(join(tmpdir(), "isotope-strict-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Runs the compiled service as `npm start` does; resolves with its exit code (null: killed) and stderr. */
function run(args: string[], env: Record<string, string> = {}) {
  // The caller's own ISOTOPE_ variables and database must not decide this test.
  const inherited = Object.entries(process.env).filter(
    ([name]) => !name.startsWith("ISOTOPE_") && name !== "DATABASE_URL",
  );
  const child = spawn(process.execPath, [serviceMain, ...args], {
    env: { ...Object.fromEntries(inherited), ...env },
  });
  let stderr = "";
  child.stderr.on("data", (chunk) => {
    stderr += chunk;
  });
  // A service that started anyway (the bug) is stopped, so the test fails rather than hangs.
  const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
  return new Promise<{ code: number | null; stderr: string }>((resolve) =>
    child.on("exit", (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    }),
  );
}

describe("a typo in the configuration, as a process", () => {
  it("exits 2 naming every unknown name and what was meant, without opening a database", {
    timeout: 60_000,
  }, async () => {
    const dataDir = join(scratch, "data");
    const config = join(scratch, "config.yaml");
    writeFileSync(config, `postgres:\n  host: db\nserver:\n  prot: 50052\nstorage:\n  data_dir: ${dataDir}\n`);
    const { code, stderr } = await run(["--config", config], { ISOTOPE_POOL_SIZE: "20" });
    expect(code).toBe(2);
    expect(stderr).toContain(`postgres: unknown section in ${config}; did you mean \`postgresql\`?`);
    expect(stderr).toContain(`server.prot: unknown key in ${config}; did you mean \`server.port\`?`);
    expect(stderr).toContain("ISOTOPE_POOL_SIZE: not a setting; did you mean `ISOTOPE_POOL_MAX`?");
    expect(existsSync(dataDir)).toBe(false);
  });
});
