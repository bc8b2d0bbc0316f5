// Headless Chromium (Debian's, through playwright-core) through the provider's login and consent
// pages, back to a tiny RP's callback, then RP-initiated logout. Saves screenshots of the login and
// consent pages. The tiny RP's back end (this script) redeems the code.
// Env: AUTHORIZE_URL, SILENT_URL, REDIRECT_URI, TOKEN_ENDPOINT, END_SESSION_ENDPOINT, CLIENT_ID,
// CLIENT_SECRET, CODE_VERIFIER, POST_LOGOUT_URI, USERNAME, PASSWORD, SCREENSHOTS.
// Prints one JSON line; exit 1 on failure.
import { chromium } from "playwright-core";
import { readFileSync } from "node:fs";

const env = process.env;
const FLAGS = [
  "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];
const version = JSON.parse(
  readFileSync(new URL("../node_modules/playwright-core/package.json", import.meta.url)),
).version;
const result = { ok: false, steps: [] };
const step = (s) => result.steps.push(s);
const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
result.library = `Chromium ${browser.version()} via playwright-core ${version}`;
try {
  const page = await (await browser.newContext({ viewport: { width: 800, height: 640 } })).newPage();
  await page.goto(env.AUTHORIZE_URL);
  await page.waitForSelector("input[name=username]", { timeout: 20000 });
  await page.screenshot({ path: `${env.SCREENSHOTS}/login.png` });
  step("login page (screenshot)");
  await page.fill("input[name=username]", env.USERNAME);
  await page.fill("input[name=password]", env.PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForSelector("button[value=approve]", { timeout: 20000 });
  await page.screenshot({ path: `${env.SCREENSHOTS}/consent.png` });
  step("consent page (screenshot)");
  await page.click("button[value=approve]");
  await page.waitForURL((u) => u.toString().startsWith(env.REDIRECT_URI), { timeout: 20000 });
  const callback = new URL(page.url());
  if (!(await page.textContent("body")).includes("tiny RP")) throw new Error("the RP's callback page did not load");
  step("callback at the tiny RP");
  const res = await fetch(env.TOKEN_ENDPOINT, {
    method: "POST",
    headers: {
      authorization: `Basic ${Buffer.from(`${env.CLIENT_ID}:${env.CLIENT_SECRET}`).toString("base64")}`,
      "content-type": "application/x-www-form-urlencoded",
    },
    body: new URLSearchParams({
      grant_type: "authorization_code",
      code: callback.searchParams.get("code") ?? "",
      redirect_uri: env.REDIRECT_URI,
      code_verifier: env.CODE_VERIFIER,
    }),
  });
  const tokens = await res.json();
  if (!tokens.id_token) throw new Error(`token exchange: ${res.status} ${JSON.stringify(tokens)}`);
  step("code redeemed by the RP");
  const end = new URL(env.END_SESSION_ENDPOINT);
  end.searchParams.set("id_token_hint", tokens.id_token);
  end.searchParams.set("post_logout_redirect_uri", env.POST_LOGOUT_URI);
  end.searchParams.set("state", "bye");
  await page.goto(end.toString());
  await page.waitForURL((u) => u.toString().startsWith(env.POST_LOGOUT_URI), { timeout: 20000 });
  if (new URL(page.url()).searchParams.get("state") !== "bye") throw new Error(`logout landing: ${page.url()}`);
  step("logged out, back at the RP");
  await page.goto(env.SILENT_URL);
  await page.waitForURL((u) => u.toString().startsWith(env.REDIRECT_URI), { timeout: 20000 });
  if (new URL(page.url()).searchParams.get("error") !== "login_required") throw new Error(`after logout: ${page.url()}`);
  step("session ended (prompt=none: login_required)");
  result.ok = true;
} catch (e) {
  result.error = String(e).slice(0, 600);
}
await browser.close();
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
