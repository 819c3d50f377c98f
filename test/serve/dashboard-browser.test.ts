// The dashboard in a real headless Chromium (Debian's, driven by playwright-core): it asks for the token,
// loads without a console error, shows the serving model and a drawn chart, and a typed user id shows the
// same recommendations as the API. Skipped, saying why, where /usr/bin/chromium is not installed.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { makeRunDir, REPORT_TEXT, type RunDir } from "./fixtures/run-dir.js";

const CHROMIUM = "/usr/bin/chromium";
const TOKEN = "dash-token";
const skip = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium)`;

const root = mkdtempSync(join(tmpdir(), "distillrec-dash-browser-"));
let run: RunDir;
let server: RunningServer;
let browser: Browser;

before(async () => {
  if (skip) return;
  run = makeRunDir(join(root, "run"));
  // Not about load: on a machine busy with other work the page's requests must not be shed.
  const limits = { shedding: false } as const;
  server = await startServer({ model: run.student, stateDir: join(root, "state"), port: 0, token: TOKEN, limits });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
});
after(async () => {
  await browser?.close();
  await server?.close();
  rmSync(root, { recursive: true, force: true });
});

test("dashboard: token, model, charts, a user's recommendations as the API gives them", { skip }, async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page: ${err.message}`));

  await page.goto(`${server.url}/dashboard`);
  await page.locator("#login").waitFor({ state: "visible" });
  await page.fill("#token", TOKEN);
  await page.click("#login button");

  await page.locator("#model-version", { hasText: run.studentVersion }).waitFor();
  const card = await page.locator("#model").innerText();
  assert.match(card, /listwise/);
  assert.match(card, /test coverage@10\s+12\.3%/);
  assert.match(card, /test long-tail NDCG@10\s+0\.0456/);
  assert.match(await page.locator("#teacher").innerText(), new RegExp(run.teacherVersion));
  // The popular items are known from the start: their bars are drawn.
  await page.locator("#chart-popular svg .mark-rect path").first().waitFor();
  assert.ok((await page.locator("#chart-popular svg .mark-rect path").count()) > 0);

  await page.fill("#user-id", "u3");
  await page.click("#user-form button");
  await page.locator("#user-recommendations li").first().waitFor();
  const shown = await page.locator("#user-recommendations li").evaluateAll((lis) => lis.map((li) => li.dataset.id));
  const api = (await (await fetch(`${server.url}/v1/recommend/u3?k=10`)).json()) as { items: { id: string }[] };
  assert.deepEqual(
    shown,
    api.items.map((i) => i.id),
  );
  assert.ok((await page.locator("#user-history li").count()) > 0);

  // The run's report opens from the link (fetched with the token).
  await page.locator("#report-link").waitFor({ state: "visible" });
  const [report] = await Promise.all([page.context().waitForEvent("page"), page.click("#report-link")]);
  await report.locator("p", { hasText: REPORT_TEXT }).waitFor();

  assert.deepEqual(problems, []);
});

test("docs: Swagger UI renders every operation of the document, with no console error", { skip }, async () => {
  const page = await browser.newPage();
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (err) => problems.push(`page: ${err.message}`));
  await page.goto(`${server.url}/docs`);
  await page.locator(".opblock", { hasText: "/v1/recommend/{userId}" }).first().waitFor();
  const doc = (await (await fetch(`${server.url}/openapi.json`)).json()) as { paths: Record<string, object> };
  const operations = Object.values(doc.paths).reduce((n, methods) => n + Object.keys(methods).length, 0);
  assert.equal(await page.locator(".opblock").count(), operations);
  assert.deepEqual(problems, []);
});
