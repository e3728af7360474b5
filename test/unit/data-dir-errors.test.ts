// A failure to use the embedded data directory is one sentence naming the directory and the
// operating system's reason, whether node reports it (code) or PGlite's file system (errno).
import { describe, expect, it } from "vitest";
import { explainFailure } from "../../src/db/data-dir.js";

const dataDir = "/srv/isotope/data";
const nodeError = (code: string) => Object.assign(new Error(`${code}: something, open '${dataDir}/x'`), { code });
// PGlite's Emscripten file system throws an ErrnoError: a positive errno, Emscripten's numbering.
const emscriptenError = (errno: number) => Object.assign(new Error(), { errno });

describe("explainFailure", () => {
  it.each([
    [nodeError("ENOSPC"), "(ENOSPC): no space left on the device"],
    [nodeError("EROFS"), "(EROFS): the file system is read-only"],
    [emscriptenError(2), "(EACCES): permission denied"],
    [emscriptenError(51), "(ENOSPC): no space left on the device"],
    [emscriptenError(54), "(ENOTDIR): a part of the path is a file"],
  ])("names the directory and the reason: %s", (error, reason) => {
    const explained = explainFailure(error, dataDir);
    expect(explained.message).toContain(`the embedded database cannot use its data directory ${dataDir} ${reason}`);
    expect(explained.message).not.toContain("\n");
    expect(explained.cause).toBe(error);
  });

  it("says what it can when PGlite gives no reason", () => {
    const explained = explainFailure(new Error("PGlite failed to initialize properly"), "/nowhere/at/all");
    expect(explained.message).toBe(
      "the embedded database failed to open /nowhere/at/all (PGlite failed to initialize properly): if the directory was not written by this service, give --data-dir a new directory",
    );
  });
});
