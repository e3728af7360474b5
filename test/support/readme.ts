// README snippets are the ones tests run, so the documentation cannot rot.
import { readFileSync } from "node:fs";

const readmePath = new URL("../../README.md", import.meta.url);

/** The fenced block of `language` that follows `<!-- snippet: name -->` in README.md. */
export function readmeSnippet(name: string, language: string): string {
  const readme = readFileSync(readmePath, "utf8");
  const marker = readme.indexOf(`<!-- snippet: ${name} -->`);
  if (marker < 0) throw new Error(`README has no snippet "${name}"`);
  const fence = `\`\`\`${language}\n`;
  const start = readme.indexOf(fence, marker) + fence.length;
  return readme.slice(start, readme.indexOf("```", start));
}
