// The query service's page in a real browser: Debian's headless Chromium,
// driven over the DevTools protocol by puppeteer-core. It uploads an image,
// waits for the grid, checks that the grid shows what the API returns, clicks
// a result to search with it, and saves a screenshot.
//   IMRET=build/imret IMRET_BUILD_DIR=build node tests/browser/page_test.mjs
import { spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import puppeteer from "puppeteer-core";

const build = process.env.IMRET_BUILD_DIR || "build";
const fixture = `${build}/serve-fixture`;
const query = `${fixture}/queries/q0.png`;
const screenshot = `${build}/serve-page.png`;

// Throws, so that the browser and the server are stopped on the way out.
function fail(message) {
  throw new Error(message);
}

const server = spawn(process.env.IMRET, ["serve", `${fixture}/index`, "--port", "0"], { stdio: ["ignore", "pipe", "inherit"] });
const port = await new Promise((resolve, reject) => {
  let seen = "";
  server.stdout.on("data", (chunk) => {
    seen += chunk;
    const match = seen.match(/http:\/\/127\.0\.0\.1:(\d+)\//);
    if (match) resolve(Number(match[1]));
  });
  server.on("exit", (code) => reject(new Error(`imret serve exited (${code}): ${seen}`)));
  setTimeout(() => reject(new Error("imret serve did not start in 60 s")), 60000);
}).catch((error) => {
  console.error("FAIL: " + error.message);
  server.kill("SIGKILL");
  process.exit(1);
});
const base = `http://127.0.0.1:${port}`;

const browser = await puppeteer.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--no-first-run"],
});
let status = 1;
try {
  const page = await browser.newPage();
  await page.setViewport({ width: 1100, height: 900 });
  const problems = [];
  page.on("pageerror", (error) => problems.push("page error: " + error.message));
  page.on("console", (message) => { if (message.type() === "error") problems.push("console: " + message.text()); });

  await page.goto(base + "/", { waitUntil: "networkidle0" });
  await page.waitForFunction(() => document.getElementById("about").textContent.includes("images"));
  const about = await page.$eval("#about", (e) => e.textContent);
  if (!about.includes("10,000 images")) fail(`the page's heading: ${about}`);

  // Upload a query image through the file picker.
  const input = await page.$("#file");
  await input.uploadFile(query);
  await page.waitForFunction(() => document.querySelectorAll("#results li").length === 12, { timeout: 30000 });
  const shown = await page.$$eval("#results li", (items) => items.map((li) => Number(li.dataset.id)));
  const metric = await page.$eval("#metric", (e) => e.value);
  const answer = await (await fetch(`${base}/api/search?k=12&metric=${metric}`, {
    method: "POST", headers: { "Content-Type": "image/png" }, body: readFileSync(query),
  })).json();
  const expected = answer.queries[0].results.map((r) => r.id);
  if (JSON.stringify(shown) !== JSON.stringify(expected)) fail(`the grid shows ${shown}, the API answers ${expected}`);
  const scores = await page.$$eval("#results .score", (s) => s.map((e) => Number(e.textContent)));
  answer.queries[0].results.forEach((r, i) => {
    if (Math.abs(scores[i] - r.score) > 0.0006) fail(`result ${i}: score ${scores[i]} shown, ${r.score} answered`);
  });
  const timings = await page.$eval("#timings", (e) => e.textContent);
  if (!/total [0-9.]+ ms/.test(timings)) fail(`timings: ${timings}`);
  await page.waitForFunction(() => [...document.querySelectorAll("#results img")].every((i) => i.complete && i.naturalWidth === 28),
                             { timeout: 30000 });
  await page.screenshot({ path: screenshot, fullPage: false });

  // Clicking a result searches with it: it comes first, with +/- marks.
  const clicked = shown[3];
  await page.click(`#results li[data-id="${clicked}"] button`);
  await page.waitForFunction((id) => document.getElementById("status").textContent.includes(`for item ${id}`), {}, clicked);
  const first = await page.$eval("#results li", (li) => Number(li.dataset.id));
  if (first !== clicked) fail(`after clicking item ${clicked}, the first result is ${first}`);
  const marks = await page.$$eval("#results .mark", (m) => m.map((e) => e.textContent));
  if (marks.length !== 12 || marks[0] !== "+") fail(`+/- marks: ${marks}`);

  // A file that is not an image: the error is shown, the grid kept.
  await page.evaluate(() => {
    const file = new File(["not an image"], "notes.png", { type: "image/png" });
    const transfer = new DataTransfer();
    transfer.items.add(file);
    const input = document.getElementById("file");
    input.files = transfer.files;
    input.dispatchEvent(new Event("change"));
  });
  await page.waitForFunction(() => document.getElementById("status").className === "error");
  const error = await page.$eval("#status", (e) => e.textContent);
  if (!error.includes("decode")) fail(`the error shown: ${error}`);

  const unexpected = problems.filter((p) => !p.includes("400"));  // the bad upload's own 400
  if (unexpected.length) fail(unexpected.join("; "));
  console.log(`serve.browser: ok (screenshot: ${screenshot})`);
  status = 0;
} catch (error) {
  console.error("FAIL: " + error.message);
} finally {
  await browser.close();
  server.kill("SIGTERM");
}
process.exit(status);
