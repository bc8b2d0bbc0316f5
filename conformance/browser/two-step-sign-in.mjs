// Headless Chromium (Debian's, through playwright-core) through two-step sign-in: the app asks for
// two factors (acr_values=2), the user signs in with a password, sets up an authenticator app from
// the key on the set-up page (this script plays the phone app: RFC 6238 with node:crypto's
// HMAC-SHA1), sees the recovery codes once, and lands at a tiny RP's callback; the RP redeems the
// code and reads acr and amr. Saves screenshots of the set-up and recovery-codes pages.
// Env: AUTHORIZE_URL, REDIRECT_URI, TOKEN_ENDPOINT, CLIENT_ID, CLIENT_SECRET, CODE_VERIFIER,
// USERNAME, PASSWORD, SCREENSHOTS. Prints one JSON line; exit 1 on failure.
import { chromium } from "playwright-core";
import { createHmac } from "node:crypto";
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

// What an authenticator app computes: base32 key, 30-second steps, 6 digits (RFC 6238, RFC 4226 §5.3).
function totp(base32) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const c of base32.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(c).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(Date.now() / 1000 / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const n = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return n.toString().padStart(6, "0");
}

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
result.library = `Chromium ${browser.version()} via playwright-core ${version}`;
try {
  const page = await (await browser.newContext({ viewport: { width: 800, height: 900 } })).newPage();
  const violations = [];
  page.on("console", (m) => { if (/Content Security Policy/i.test(m.text())) violations.push(m.text()); });
  await page.goto(env.AUTHORIZE_URL);
  await page.waitForSelector("input[name=username]", { timeout: 20000 });
  await page.fill("input[name=username]", env.USERNAME);
  await page.fill("input[name=password]", env.PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForSelector("#totp-secret", { timeout: 20000 });
  const box = await page.locator("figure.qr svg").boundingBox();
  if (!box || box.width < 100) throw new Error("the QR code is not drawn");
  await page.screenshot({ path: `${env.SCREENSHOTS}/second-factor-setup.png` });
  step("set-up page with its QR code (screenshot)");
  const key = (await page.textContent("#totp-secret")).trim();
  await page.fill("input[name=code]", totp(key));
  await page.click("button[type=submit]");
  await page.waitForSelector("ul.codes", { timeout: 20000 });
  const codes = await page.locator("ul.codes li").count();
  if (codes !== 10) throw new Error(`${codes} recovery codes shown`);
  await page.screenshot({ path: `${env.SCREENSHOTS}/recovery-codes.png` });
  step("ten recovery codes shown (screenshot)");
  await page.click("button[type=submit]");
  await page.waitForURL((u) => u.toString().startsWith(env.REDIRECT_URI) || u.toString().includes("/consent"), { timeout: 20000 }).catch(() => {});
  if (await page.locator("button[value=approve]").count()) await page.click("button[value=approve]");
  await page.waitForURL((u) => u.toString().startsWith(env.REDIRECT_URI), { timeout: 20000 });
  step("back at the RP's callback");
  const callback = new URL(page.url());
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
  const claims = JSON.parse(Buffer.from(tokens.id_token.split(".")[1], "base64url").toString());
  if (claims.acr !== "2" || !claims.amr.includes("mfa")) throw new Error(`acr ${claims.acr}, amr ${claims.amr}`);
  step(`ID token: acr ${claims.acr}, amr ${claims.amr.join(" ")}`);
  if (violations.length) throw new Error(`CSP violations: ${violations.join("; ")}`);
  step("no Content-Security-Policy violation on the pages");
  result.ok = true;
} catch (e) {
  result.error = String(e).slice(0, 600);
}
await browser.close();
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
