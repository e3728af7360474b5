/**
 * The admin console's entry: learns who the token is (AdminService.WhoAmI) — asking for a token
 * when the service wants one — then shows the view the address names: #/ overview, #/sessions,
 * #/session/<id>. What the token's role may not call is never offered.
 */
import { type Access, accessOf, admin, describeError, token } from "./api.js";
import { fill, h } from "./dom.js";
import { errorBox } from "./notice.js";
import { overview } from "./overview.js";
import { sessionPage } from "./session-page.js";
import { sessionsTable } from "./sessions-table.js";

const main = document.getElementById("main") as HTMLElement;
const account = document.getElementById("account") as HTMLElement;
const nav = document.getElementById("nav") as HTMLElement;

/** The signed-in token's access; undefined while the sign-in form shows. */
let signedIn: Access | undefined;
window.addEventListener("hashchange", () => {
  if (signedIn !== undefined) route(signedIn);
});

async function start(): Promise<void> {
  try {
    signedIn = accessOf(await admin.whoAmI({}));
    showAccount(signedIn);
    nav.hidden = false;
    route(signedIn);
  } catch (error) {
    if (describeError(error).unauthenticated) tokenForm(token.get() === null ? undefined : error);
    else fill(main, h("h1", {}, "Isotope Sessions"), errorBox(error, "WhoAmI"));
  }
}

function tokenForm(failure?: unknown): void {
  signedIn = undefined;
  token.clear();
  nav.hidden = true;
  fill(account);
  const input = h("input", {
    id: "token",
    type: "password",
    required: true,
    autocomplete: "off",
    "aria-describedby": "token-hint",
  });
  const form = h(
    "form",
    { class: "token-form", "aria-labelledby": "token-title" },
    h("h1", { id: "token-title" }, "Sign in"),
    failure !== undefined && errorBox(failure, "Sign-in"),
    h("label", { for: "token" }, "Bearer token"),
    input,
    h(
      "p",
      { id: "token-hint", class: "hint" },
      "Kept in this tab only (sessionStorage) and sent to this service alone.",
    ),
    h("button", { type: "submit", class: "primary" }, "Sign in"),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    token.set(input.value.trim());
    void start();
  });
  fill(main, form);
  input.focus();
}

function showAccount(access: Access): void {
  const { who } = access;
  const forget = h("button", { type: "button", class: "link", id: "sign-out" }, "Sign out");
  forget.addEventListener("click", () => {
    window.location.hash = "#/";
    tokenForm();
  });
  fill(
    account,
    who.accessControl
      ? h("span", { id: "whoami" }, "Signed in as ", h("strong", {}, who.name), ` (role ${who.role})`)
      : h("span", { id: "whoami" }, "Access control is off: every call is allowed"),
    who.accessControl && forget,
  );
}

function route(access: Access): void {
  const hash = window.location.hash;
  // In-page links (skip to content) are not views.
  if (hash !== "" && !hash.startsWith("#/")) return;
  const sessionMatch = /^#\/session\/(.+)$/.exec(hash);
  for (const link of nav.querySelectorAll("a")) {
    const current = link.getAttribute("href") === (sessionMatch ? "#/sessions" : hash || "#/");
    if (current) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (sessionMatch) {
    let id: string;
    try {
      id = decodeURIComponent(sessionMatch[1] as string);
    } catch {
      id = sessionMatch[1] as string;
    }
    document.title = `Session ${id} · Isotope admin`;
    sessionPage(main, access, id);
  } else if (hash === "#/sessions") {
    document.title = "Sessions · Isotope admin";
    sessionsTable(main);
  } else {
    document.title = "Overview · Isotope admin";
    overview(main, access);
  }
  main.focus({ preventScroll: true });
}

void start();
