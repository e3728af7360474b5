// A Watch client as a process of its own, as a user's consumer runs: it appends every change it
// receives to a file, one line each ("sequence session_id kind version"), and on start resumes
// after the file's last complete line — a last line without its newline (a kill mid-write) is cut
// off first. test/e2e/watch-replicas.test.ts bundles it (esbuild) and kills it with SIGKILL at
// random points. By hand: node --import tsx test/support/watch-to-file.ts <base url> <file> <since>
// (<since>: the sequence to start after while the file is empty; at least 1, as 0 means "from now").
// Prints "watching after N" once the first response arrived (the stream is open), then nothing.
import { existsSync, ftruncateSync, openSync, readFileSync, writeSync } from "node:fs";
import { ChangeEvent_Kind, createSessionClient, watchChanges } from "../../packages/client/src/index.js";

const [baseUrl, file, from] = process.argv.slice(2);
if (baseUrl === undefined || file === undefined || from === undefined)
  throw new Error("usage: watch-to-file.ts <base url> <file> <sequence to start after>");

const text = existsSync(file) ? readFileSync(file, "utf8") : "";
const complete = text.slice(0, text.lastIndexOf("\n") + 1);
const last = complete.trimEnd().split("\n").at(-1);
const after = last ? BigInt(last.split(" ")[0] as string) : BigInt(from);
const fd = openSync(file, "a");
ftruncateSync(fd, Buffer.byteLength(complete));

let announced = false;
const client = createSessionClient({ baseUrl });
for await (const event of watchChanges(client, {
  since: after,
  onPosition: () => {
    if (!announced) process.stdout.write(`watching after ${after}\n`);
    announced = true;
  },
})) {
  // One write(2) per line: what a kill interrupts is between lines, or a line cut short.
  writeSync(
    fd,
    `${event.sequence} ${event.sessionId} ${ChangeEvent_Kind[event.kind].toLowerCase()} ${event.version}\n`,
  );
}
