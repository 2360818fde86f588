// A real browser (Debian's headless Chromium, driven by playwright-core) on Rounds' pages.
//
//   node browser.mjs sign-in AUTHORIZE_URL USERNAME PASSWORD SCREENSHOT_DIR
//       open the app's authorization URL, sign in, approve; print the code page's code,
//       the pages' titles and languages, and any console errors or failed requests
//   node browser.mjs visit URL SCREENSHOT_PATH
//       open a page; print its title, language, headings and any console errors
import { chromium } from "playwright-core";

const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
const [command, ...args] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
const page = await browser.newPage();
const problems = [];
page.on("console", (message) => { if (message.type() === "error") problems.push(message.text()); });
page.on("pageerror", (error) => problems.push(String(error)));
page.on("requestfailed", (request) => problems.push(`failed: ${request.url()}`));
page.on("response", (response) => {
  if (response.status() >= 400 && response.request().resourceType() !== "document") {
    problems.push(`${response.status()}: ${response.url()}`);
  }
});

async function describe() {
  return {
    url: page.url(),
    title: await page.title(),
    lang: await page.getAttribute("html", "lang"),
    headings: await page.locator("h1").allInnerTexts(),
  };
}

try {
  if (command === "sign-in") {
    const [authorizeUrl, username, password, shots] = args;
    await page.goto(authorizeUrl);
    const login = await describe();
    await page.screenshot({ path: `${shots}/sign-in.png`, fullPage: true });
    await page.getByLabel("Username or email").fill(username);
    await page.getByLabel("Password").fill(password);
    await page.getByRole("button", { name: "Sign in" }).click();
    await page.waitForLoadState();
    const consent = await describe();
    await page.screenshot({ path: `${shots}/consent.png`, fullPage: true });
    await page.getByRole("button", { name: "Authorize" }).click();
    await page.waitForSelector("#authorization_code");
    const code = (await page.locator("#authorization_code").innerText()).trim();
    await page.screenshot({ path: `${shots}/code.png`, fullPage: true });
    console.log(JSON.stringify({ login, consent, done: await describe(), code, problems }));
  } else if (command === "visit") {
    const [url, shot] = args;
    const response = await page.goto(url);
    await page.screenshot({ path: shot, fullPage: true });
    console.log(JSON.stringify({ status: response.status(), ...(await describe()), problems }));
  } else {
    throw new Error(`unknown command ${command}`);
  }
} finally {
  await browser.close();
}
