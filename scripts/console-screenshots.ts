// `npm run screenshots`: the README's pictures of the admin console (docs/console-*.png), taken at
// 1366 × 768 in Debian's Chromium from a service on an embedded database with demo sessions, a
// day of samples and a recorded scheduled cleanup — the same fixtures the browser tests use.
import { fileURLToPath } from "node:url";
import { consoleTokens, launchChromium, recordHistory, seedSessions } from "../test/support/console.js";
import { embedded } from "../test/support/databases.js";
import { startServer, testLimits } from "../test/support/server.js";

const docs = fileURLToPath(new URL("../docs/", import.meta.url));
const { tokens, auth } = consoleTokens();
const server = await startServer(embedded, testLimits, 0, [], undefined, { auth });
const browser = await launchChromium();
try {
  const fixture = await seedSessions(server.url, tokens.admin, server.db, server.table, {
    count: 40,
    messages: 45,
    expired: 3,
  });
  await recordHistory(server.db, server.table, { hours: 24, stepMinutes: 10, replica: "sessions-7f9c-0" });
  const page = await browser.newPage({ viewport: { width: 1366, height: 768 } });
  await page.goto(`${server.url}/admin/`);
  await page.getByLabel("Bearer token").fill(tokens.admin);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.locator("#chart-sessions svg").waitFor();
  await page.screenshot({ path: `${docs}console-overview.png`, fullPage: true });

  await page.getByRole("link", { name: "Sessions", exact: true }).click();
  await page.locator("table.sessions").waitFor();
  await page.screenshot({ path: `${docs}console-sessions.png` });

  await page.getByRole("link", { name: fixture.talkative }).click();
  await page.locator(".messages").waitFor();
  await page.screenshot({ path: `${docs}console-session.png` });

  await page.getByRole("button", { name: "Hard delete…" }).click();
  await page.getByRole("dialog").waitFor();
  await page.screenshot({ path: `${docs}console-confirm.png` });
  console.log(`screenshots written to ${docs}console-*.png`);
} finally {
  await browser.close();
  await server.stop();
}
