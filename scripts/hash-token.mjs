// Prints the SHA-256 (hex) of a bearer token: the value auth.tokens[].sha256 and
// ISOTOPE_AUTH_TOKENS expect. The token comes from the first argument, else from stdin (one line;
// the trailing newline is not part of it). Stdin keeps it out of shell history and `ps`:
//   openssl rand -hex 32 | tee token.txt | npm run -s hash-token
import { createHash } from "node:crypto";

async function readStdin() {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  return Buffer.concat(chunks)
    .toString("utf8")
    .replace(/\r?\n$/, "");
}

const token = process.argv[2] ?? (await readStdin());
if (token.length === 0) {
  process.stderr.write("usage: npm run -s hash-token -- <token>   or   echo <token> | npm run -s hash-token\n");
  process.exit(2);
}
process.stdout.write(`${createHash("sha256").update(token, "utf8").digest("hex")}\n`);
