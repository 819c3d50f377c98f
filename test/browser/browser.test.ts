import { describe, test, before, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { ExactIndex } from "../../src/engine/retrieval.js";
import { exportWeb, type WebStudent } from "../../src/interop/web-export.js";
import { loadStudent } from "../../src/browser/index.js";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { TwoTower, type TwoTowerConfig } from "../../src/models/two-tower.js";
import type { DotProductModel } from "../../src/models/dot-product.js";
import { unknownUser } from "../../src/models/context.js";
import { loadData, prepareData, type PreparedData } from "../../src/run/data.js";
import { startDemoServer } from "../../src/cli/commands/demo-browser.js";

const root = new URL("../../../", import.meta.url);
const CHROMIUM = "/usr/bin/chromium";
let prepared: PreparedData;

/** Node's top-k: the model's own user vector, ranked by the serving index, leaving out `exclude`. */
function nodeTopK(
  model: DotProductModel,
  user: number,
  history: number[] | undefined,
  k: number,
  exclude: number[],
): number[] {
  const index = new ExactIndex(model.itemVectorTable(), model.dim);
  const mask = new Uint8Array(model.numItems);
  for (const i of exclude) mask[i] = 1;
  const query = history ? { user, history: Int32Array.from(history) } : { user };
  const items = Array.from(index.search(model.userVector(query), k, { exclude: mask }).items);
  index.dispose();
  return items;
}

/**
 * The browser's top-k equals Node's rank by rank up to float rounding: the user MLP runs in float64
 * in the browser and float32 in Node, so near-ties may swap, but the score at each rank (under
 * Node's vector) must match.
 */
function assertSameRanking(
  model: DotProductModel,
  query: { user: number; history?: number[] },
  got: number[],
  want: number[],
  what: string,
): void {
  const history = query.history && Int32Array.from(query.history);
  const vector = model.userVector(history ? { user: query.user, history } : { user: query.user });
  const table = model.itemVectorTable();
  const score = (item: number): number => {
    let s = 0;
    for (let c = 0; c < model.dim; c++) s += vector[c]! * table[item * model.dim + c]!;
    return s;
  };
  assert.equal(got.length, want.length, what);
  got.forEach((item, k) => {
    assert.ok(Math.abs(score(item) - score(want[k]!)) <= 1e-4, `${what}: rank ${k} is ${item}, Node's ${want[k]}`);
  });
}

function recentOf(model: DotProductModel, user: number): number[] {
  const h = model.context.histories!;
  const end = h.offsets[user + 1]!;
  return Array.from(h.items.subarray(Math.max(h.offsets[user]!, end - model.historyLength), end));
}

/** A fetch over the web form in memory and the kernels on disk. */
function memoryFetch(web: WebStudent): typeof fetch {
  return (async (url: URL) => {
    const path = String(url);
    const body = path.endsWith("model.json")
      ? JSON.stringify(web.manifest)
      : path.endsWith("tables.bin")
        ? web.tables
        : readFileSync(fileURLToPath(new URL("dist/kernels.wasm", root)));
    return new Response(body);
  }) as unknown as typeof fetch;
}

const towers: [string, TwoTowerConfig][] = [
  ["two-tower, mean pooling, side features", { pooling: "mean" }],
  ["two-tower, attention pooling, own history table", { pooling: "attention", shareItemEmbeddings: false }],
];

before(async () => {
  prepared = prepareData(await loadData({ kind: "synthetic", synthetic: { users: 150, items: 90, events: 4000 } }, 2));
});

describe("distillrec/browser (in Node)", () => {
  const cases = (): [string, DotProductModel][] => [
    ["bpr-mf", new BPRMF({ dim: 8, seed: 1, initStd: 0.3 }, prepared.context) as DotProductModel],
    ...towers.map(([n, c]): [string, DotProductModel] => [
      n,
      new TwoTower({ dim: 8, maxHistory: 5, seed: 1, initStd: 0.3, ...c }, prepared.context),
    ]),
    [
      "two-tower, user MLP",
      new TwoTower({ dim: 8, maxHistory: 5, seed: 1, initStd: 0.3, userLayers: [12] }, prepared.context),
    ],
  ];

  test("top-10 for users, live histories and similar items equal Node's", async () => {
    for (const [name, model] of cases()) {
      const web = exportWeb(model, { users: prepared.dataset.users, items: prepared.dataset.items });
      const student = await loadStudent("http://model.test/m/", {
        fetch: memoryFetch(web),
        wasm: "http://k.test/kernels.wasm",
      });
      const exact = !model.kind.includes("two-tower") || !(model as TwoTower).userMlp;
      for (const user of [0, 17, 99]) {
        const used = model.historyLength ? recentOf(model, user) : [];
        const got = student.recommend(user, 10).items;
        const want = nodeTopK(model, user, undefined, 10, used);
        if (exact) assert.deepEqual(got, want, `${name}, user ${user}`);
        else assertSameRanking(model, { user }, got, want, `${name}, user ${user}`);
        const vector = student.userVector(user);
        const native = model.userVector({ user });
        for (let c = 0; c < model.dim; c++) assert.ok(Math.abs(vector[c]! - native[c]!) <= 1e-5);
      }
      if (model.historyLength) {
        const live = [3, 8, 8, 40, 2, 77, 5];
        const visitor = unknownUser(model.context);
        const got = student.recommendForHistory(live, 10).items;
        const want = nodeTopK(model, visitor, live, 10, live.slice(-5));
        if (exact) assert.deepEqual(got, want, `${name}, live history`);
        else assertSameRanking(model, { user: visitor, history: live }, got, want, `${name}, live history`);
        const vector = student.userVector(visitor, live);
        const native = model.userVector({ user: visitor, history: Int32Array.from(live) });
        for (let c = 0; c < model.dim; c++)
          assert.ok(Math.abs(vector[c]! - native[c]!) <= 1e-5, `${name}, live history`);
      }
      const similar = student.similarItems(4, 10).items;
      const table = model.itemVectorTable();
      const index = new ExactIndex(table, model.dim);
      const mask = new Uint8Array(model.numItems);
      mask[4] = 1;
      assert.deepEqual(
        similar,
        Array.from(index.search(table.slice(4 * model.dim, 5 * model.dim), 10, { exclude: mask }).items),
      );
      index.dispose();
    }
  });

  test("a manifest that does not match its tables is refused", async () => {
    const model = new BPRMF({ dim: 4 }, prepared.context);
    const web = exportWeb(model, { users: prepared.dataset.users, items: prepared.dataset.items });
    const broken = { manifest: { ...web.manifest, bytes: web.manifest.bytes + 64 }, tables: web.tables };
    await assert.rejects(
      loadStudent("http://m.test/", { fetch: memoryFetch(broken), wasm: "http://k.test/kernels.wasm" }),
      /tables\.bin has \d+ bytes, the manifest says/,
    );
  });
});

describe("distillrec/browser in headless Chromium", () => {
  const skip = !existsSync(CHROMIUM)
    ? `${CHROMIUM} is not installed (apt-get install chromium): the in-browser test is skipped`
    : !existsSync(fileURLToPath(new URL("dist/browser/distillrec.js", root)))
      ? "dist/browser/distillrec.js is missing (npm run build:browser): the in-browser test is skipped"
      : false;
  let close: (() => Promise<void>) | undefined;
  after(async () => close?.());

  test("the example page's top-10 equals Node's for the same user and history", { skip }, async () => {
    const { chromium } = await import("playwright-core");
    const model = new TwoTower({ dim: 8, maxHistory: 5, seed: 4, initStd: 0.3 }, prepared.context);
    const server = await startDemoServer(
      exportWeb(model, { users: prepared.dataset.users, items: prepared.dataset.items }),
    );
    close = server.close;
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ["--no-sandbox"] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on("pageerror", (e) => errors.push(e.message));
      await page.goto(server.url);
      await page.waitForSelector("body[data-ready]");
      assert.deepEqual(errors, []);
      assert.equal(await page.locator("body").getAttribute("data-ready"), "true");
      const live = [3, 8, 40, 2, 77, 5, 61];
      const got = await page.evaluate((history) => {
        type Page = { demo: { student: import("../../src/browser/index.js").BrowserStudent } };
        const { student } = (globalThis as unknown as Page).demo;
        return {
          users: [0, 17, 99].map((u) => student.recommend(u, 10).items),
          live: student.recommendForHistory(history, 10).items,
          similar: student.similarItems(4, 10).items,
        };
      }, live);
      assert.deepEqual(
        got.users,
        [0, 17, 99].map((u) => nodeTopK(model, u, undefined, 10, recentOf(model, u))),
      );
      assert.deepEqual(got.live, nodeTopK(model, unknownUser(model.context), live, 10, live.slice(-5)));
      // The page itself shows the first user's top-10.
      assert.equal(await page.locator("#for-user li").count(), 10);
    } finally {
      await browser.close();
    }
  });
});
