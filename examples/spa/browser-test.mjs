// The guide's SPA (§5) in headless Chromium against a running provider:
//  1. registers itself as the guide's curl does (dynamic registration, public client),
//  2. serves the SPA on another loopback port,
//  3. clicks "Log in", signs in and approves on the provider's pages,
//  4. waits for the callback page to show the user's name (token exchange and UserInfo by fetch,
//     cross-origin: this needs the provider's CORS).
// Env: ISSUER, USERNAME, PASSWORD, EXPECT_NAME; SCREENSHOTS (a directory, optional).
// Prints one JSON line with the outcome; exits 1 on failure.
import { chromium } from "playwright-core";
import { serveSpa } from "./serve.mjs";

const { ISSUER, USERNAME, PASSWORD, EXPECT_NAME, SCREENSHOTS } = process.env;
const CHROMIUM_FLAGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

const spa = await serveSpa({ issuer: ISSUER, clientId: "pending" });
const origin = `http://localhost:${spa.address().port}`;
spa.close();

// §5 "Register as a Public Client", with this SPA's redirect URI.
const reg = await fetch(`${ISSUER}/api/v1/oidc/register`, {
  method: "POST",
  headers: { "Content-Type": "application/json" },
  body: JSON.stringify({
    client_name: "My SPA",
    redirect_uris: [`${origin}/callback`],
    grant_types: ["authorization_code"],
    token_endpoint_auth_method: "none",
    scope: "openid profile email",
  }),
});
const client = await reg.json();
if (reg.status !== 201) {
  console.log(JSON.stringify({ ok: false, step: "register", status: reg.status, body: client }));
  process.exit(1);
}
const server = await serveSpa({ port: Number(new URL(origin).port), issuer: ISSUER, clientId: client.client_id });

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: CHROMIUM_FLAGS });
const result = { ok: false, origin, client_id: client.client_id, browser: browser.version() };
try {
  const page = await (await browser.newContext()).newPage();
  const failed = [];
  page.on("requestfailed", (r) => failed.push(`${r.method()} ${r.url()}: ${r.failure()?.errorText}`));
  page.on("console", (m) => m.type() === "error" && failed.push(`console: ${m.text()}`));
  await page.goto(`${origin}/`);
  await page.click("#login");
  await page.waitForSelector("input[name=username]", { timeout: 15000 });
  if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/spa-login.png` });
  await page.fill("input[name=username]", USERNAME);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  // A registered client is third-party: the provider asks for consent.
  await page.waitForSelector("button[value=approve], #user-name", { timeout: 15000 });
  if (await page.$("button[value=approve]")) {
    if (SCREENSHOTS) await page.screenshot({ path: `${SCREENSHOTS}/spa-consent.png` });
    await page.click("button[value=approve]");
  }
  await page.waitForFunction(
    () => document.getElementById("status")?.textContent !== "Signing in...",
    null,
    { timeout: 15000 },
  );
  result.status = await page.textContent("#status");
  result.name = await page.textContent("#user-name");
  result.email = await page.textContent("#user-email");
  result.stored_token = await page.evaluate(() => (localStorage.getItem("access_token") || "").length > 0);
  result.failed_requests = failed;
  result.ok = result.status === "Signed in" && result.name === EXPECT_NAME && result.stored_token;
} catch (e) {
  result.error = String(e);
} finally {
  await browser.close();
  server.close();
}
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
