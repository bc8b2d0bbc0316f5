// Drives any app's sign-in through the provider's pages in headless Chromium:
// open START_URL, click CLICK (if given), sign in as USERNAME/PASSWORD, approve consent if
// asked, then wait until EXPECT_SELECTOR contains EXPECT_TEXT. Prints one JSON line; exit 1 on failure.
import { chromium } from "playwright-core";

const { START_URL, CLICK, USERNAME, PASSWORD, EXPECT_SELECTOR, EXPECT_TEXT } = process.env;
const FLAGS = [
  "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
  "--disable-background-networking", "--disable-component-update", "--disable-sync",
];

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: FLAGS });
const result = { ok: false, start: START_URL };
try {
  const page = await (await browser.newContext()).newPage();
  await page.goto(START_URL);
  if (CLICK) await page.click(CLICK);
  await page.waitForSelector("input[name=username]", { timeout: 20000 });
  await page.fill("input[name=username]", USERNAME);
  await page.fill("input[name=password]", PASSWORD);
  await page.click("button[type=submit]");
  await page.waitForSelector(`button[value=approve], ${EXPECT_SELECTOR}`, { timeout: 20000 });
  if (await page.$("button[value=approve]")) await page.click("button[value=approve]");
  await page.waitForFunction(
    ([sel, text]) => document.querySelector(sel)?.textContent?.includes(text),
    [EXPECT_SELECTOR, EXPECT_TEXT],
    { timeout: 20000 },
  );
  result.text = await page.textContent(EXPECT_SELECTOR);
  result.url = page.url();
  result.ok = true;
} catch (e) {
  result.error = String(e).slice(0, 500);
}
await browser.close();
console.log(JSON.stringify(result));
process.exit(result.ok ? 0 : 1);
