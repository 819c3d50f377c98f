/**
 * The README's picture of the dashboard: serve a run's model with online learning, play simulated users
 * against it for a while (they click one of their recommendations most of the time, else anything), then
 * photograph /dashboard in headless Chromium.
 *
 *   node dist/bench/dashboard-screenshot.js runs/default/models/student-listwise-compressed docs/dashboard.png [seconds]
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { chromium } from "playwright-core";
import { DataRng } from "../src/data/rng.js";
import { onlineLearning } from "../src/online/serve.js";
import { startServer } from "../src/serve/server.js";

const [model, out = "docs/dashboard.png", seconds = "60"] = process.argv.slice(2);
if (!model) throw new Error("usage: dashboard-screenshot <model artefact> [out.png] [seconds]");
const TOKEN = "screenshot";
const state = mkdtempSync(join(tmpdir(), "distillrec-shot-"));
const server = await startServer({
  model: resolve(model),
  stateDir: state,
  port: 0,
  token: TOKEN,
  learner: onlineLearning({
    publishEvery: 4000,
    loop: { redistillEvery: 3000, gate: { holdout: 600 }, watch: { window: 600 } },
  }),
});
const headers = { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" };
const { artefact, catalogue } = server.registry.current.model;
const rng = new DataRng(7);
const user = () => artefact.users.external(rng.int(artefact.users.size));

// Each round: a few users ask for recommendations and click one (70 %) or a random item.
async function round(): Promise<void> {
  const events = await Promise.all(
    Array.from({ length: 40 }, async () => {
      const id = user();
      const answer = (await (await fetch(`${server.url}/v1/recommend/${id}?k=10`)).json()) as {
        items: { id: string }[];
      };
      const item =
        rng.next() < 0.7 && answer.items.length > 0
          ? answer.items[rng.int(answer.items.length)]!.id
          : catalogue.ids.external(rng.int(catalogue.size));
      return { user: id, item, type: "click" };
    }),
  );
  await fetch(`${server.url}/v1/events`, { method: "POST", headers, body: JSON.stringify({ events }) });
}
const end = Date.now() + Number(seconds) * 1000;
while (Date.now() < end) await round();
// Traffic goes on while the picture is taken, so "now" is not an idle moment.
let playing = true;
const background = (async () => {
  while (playing) await round();
})();

const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] });
const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
await page.goto(`${server.url}/dashboard`);
await page.fill("#token", TOKEN);
await page.click("#login button");
await page.locator("#chart-popular svg").waitFor();
await page.fill("#user-id", user());
await page.click("#user-form button");
await page.locator("#user-recommendations li").first().waitFor();
await page.waitForTimeout(2500);
await page.screenshot({ path: out, fullPage: true });
await browser.close();
playing = false;
await background;
await server.close();
rmSync(state, { recursive: true, force: true });
console.log(`wrote ${out}`);
