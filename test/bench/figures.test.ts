import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { format } from "prettier";
import {
  figureDocuments,
  readSources,
  rewriteFigures,
  type BenchResult,
  type FigureSources,
} from "../../bench/figures.js";
import type { FlagshipResult } from "../../bench/flagship-result.js";

// Run from dist/test/bench/; the documents, results and fixtures are read from the sources.
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
const read = (path: string): string => readFileSync(join(root, path), "utf8");
const flagship = JSON.parse(read("test/fixtures/flagship.json")) as FlagshipResult;
const methods = JSON.parse(read("test/fixtures/methods.json")) as BenchResult;

describe("figures", () => {
  test("README.md and docs/*.md quote the committed result files (else: npm run docs:figures)", () => {
    const sources = readSources(join(root, "bench", "results"));
    for (const document of figureDocuments(root)) {
      const text = read(document);
      assert.equal(rewriteFigures(text, sources).text, text, `${document}: figures differ from bench/results`);
    }
  });

  test("the flagship's regions are written from flagship.json", async () => {
    const text = [
      "Intro. <!-- figures:flagship-intro -->old<!-- /figures -->",
      "A student with <!-- figures:flagship-student-share -->1%<!-- /figures -->:",
      "",
      "<!-- figures:flagship-output -->",
      "",
      "```text",
      "an old run",
      "```",
      "",
      "<!-- /figures -->",
      "",
      "<!-- figures:flagship-models -->",
      "",
      "old table",
      "",
      "<!-- /figures -->",
      "",
      "(<!-- figures:flagship-screenshot -->`old command`<!-- /figures -->)",
      "",
    ].join("\n");
    const { text: written, left } = rewriteFigures(text, { bench: new Map(), flagship });
    assert.deepEqual(left, []);
    const expected = [
      "Intro. <!-- figures:flagship-intro -->It takes about 2.0 minutes on two cores. Over 3 seeds at one thread",
      "(full-ranking NDCG@10, mean) the best teacher, sasrec, is 2.11× the tiny student trained alone. On accuracy,",
      "listwise lifts it 1.56× and ranking lowers it 0.95×; relaxed ranking distillation leaves it within the seeds'",
      "spread (1.24×). The shipped student (the best on validation, compressed) recommends 20% of the catalogue to the",
      "test users (the teacher 41%, the student alone 5%), and its long-tail NDCG@10 is 0.50× the teacher's (the",
      "student alone's 0.20×). In 2 runs on two threads every model stays within 2.1% of its one-thread NDCG@10.<!-- /figures -->",
      "A student with <!-- figures:flagship-student-share -->9% of the teacher's parameters<!-- /figures -->:",
      "",
      "<!-- figures:flagship-output -->",
      "",
      "```text",
      "data         synthetic-ecommerce(seed=0): 3,000 users, 1,500 items",
      'run "default": 7 models on synthetic-ecommerce(seed=0)',
      "```",
      "",
      "<!-- /figures -->",
      "",
      "<!-- figures:flagship-models -->",
      "",
      "| model                       | role       | parameters | weights bytes |         NDCG@10 |     coverage@10 | long-tail NDCG@10 |",
      "| --------------------------- | ---------- | ---------: | ------------: | --------------: | --------------: | ----------------: |",
      "| sasrec                      | teacher    |    148 480 |       598 276 | 0.1900 ± 0.0100 | 0.4100 ± 0.0100 |   0.0200 ± 0.0020 |",
      "| two-tower-64                | teacher    |    303 360 |     1 214 404 | 0.1400 ± 0.0100 |               – |                 – |",
      "| student-none                | student    |     12 720 |        53 636 | 0.0900 ± 0.0100 | 0.0500 ± 0.0100 |   0.0040 ± 0.0010 |",
      "| student-listwise            | distilled  |     12 720 |        53 636 | 0.1400 ± 0.0050 |               – |                 – |",
      "| student-ranking             | distilled  |     12 720 |        53 636 | 0.0850 ± 0.0050 |               – |                 – |",
      "| student-relaxed-ranking     | distilled  |     12 720 |        53 636 | 0.1100 ± 0.0200 |               – |                 – |",
      "| student-listwise-compressed | compressed |     12 720 |        14 596 | 0.1380 ± 0.0050 | 0.2000 ± 0.0200 |   0.0100 ± 0.0020 |",
      "| popularity                  | reference  |          0 |             0 | 0.0500 ± 0.0000 | 0.0100 ± 0.0000 |                 – |",
      "",
      "<!-- /figures -->",
      "",
      "(<!-- figures:flagship-screenshot -->`node dist/bench/dashboard-screenshot.js " +
        "runs/default/models/student-listwise-compressed docs/dashboard.png`<!-- /figures -->)",
      "",
    ].join("\n");
    assert.equal(written, expected);
    // What the generator writes passes `npm run lint`'s prettier --check as it is.
    assert.equal(await format(written, { parser: "markdown", printWidth: 120 }), written);
  });

  test("bench:methods' regions are written from methods.json", async () => {
    const text = [
      "At seeds <!-- figures:methods-shop-setting -->old<!-- /figures -->:",
      "",
      "<!-- figures:methods-shop -->",
      "",
      "old table",
      "",
      "<!-- /figures -->",
      "",
      "Here <!-- figures:methods-shop-ranking -->old<!-- /figures -->.",
      "Over the seeds <!-- figures:methods-shop-unkd -->old<!-- /figures -->.",
      "",
    ].join("\n");
    const { text: written, left } = rewriteFigures(text, { bench: new Map([["methods", methods]]) });
    assert.deepEqual(left, []);
    const expected = [
      "At seeds <!-- figures:methods-shop-setting -->0, 1 and 2, the student's learning rate 0.01<!-- /figures -->:",
      "",
      "<!-- figures:methods-shop -->",
      "",
      "| model                 |         NDCG@10 | sampled NDCG@10 | long-tail NDCG@10 |     coverage@10 | long-tail share@10 |",
      "| --------------------- | --------------: | --------------: | ----------------: | --------------: | -----------------: |",
      "| the student alone     | 0.1500 ± 0.0100 | 0.2500 ± 0.0100 |   0.0750 ± 0.0050 | 0.1000 ± 0.0100 |    0.5000 ± 0.0200 |",
      "| listwise              | 0.1600 ± 0.0100 | 0.2600 ± 0.0100 |   0.1200 ± 0.0100 | 0.1900 ± 0.0100 |    0.7500 ± 0.0200 |",
      "| relaxed ranking       | 0.1700 ± 0.0100 | 0.2700 ± 0.0100 |   0.1250 ± 0.0100 | 0.1800 ± 0.0100 |    0.7300 ± 0.0200 |",
      "| ranking               | 0.1200 ± 0.0200 | 0.2200 ± 0.0200 |   0.0500 ± 0.0100 | 0.0200 ± 0.0050 |    0.1000 ± 0.0500 |",
      "| UnKD                  | 0.1680 ± 0.0100 | 0.2640 ± 0.0100 |   0.1140 ± 0.0100 | 0.1800 ± 0.0100 |    0.7100 ± 0.0200 |",
      "| the teacher (sasrec)  | 0.1900 ± 0.0100 | 0.3000 ± 0.0100 |   0.1400 ± 0.0100 | 0.4200 ± 0.0200 |    0.8000 ± 0.0100 |",
      "| the popularity ranker | 0.0500 ± 0.0000 | 0.1000 ± 0.0000 |   0.0000 ± 0.0000 | 0.0067 ± 0.0000 |    0.0000 ± 0.0000 |",
      "",
      "<!-- /figures -->",
      "",
      "Here <!-- figures:methods-shop-ranking -->ranking distillation (the preset) reaches 0.80× the student",
      "alone's NDCG@10 and 0.75× listwise's; its top 10 lists cover 2.0% of the catalogue (the student alone's 10.0%,",
      "listwise's 19.0%), and 10.0% of their items are long-tail ones (the student alone's 50.0%, listwise's 75.0%)<!-- /figures -->.",
      "Over the seeds <!-- figures:methods-shop-unkd -->UnKD's NDCG@10 is 1.05× listwise's, its long-tail NDCG@10",
      "0.95× and its long-tail share of the top 10 0.95× (targets ≥ 1×: met, missed, missed)<!-- /figures -->.",
      "",
    ].join("\n");
    assert.equal(written, expected);
    assert.equal(await format(written, { parser: "markdown", printWidth: 120 }), written);
  });

  test("without flagship.json its regions are left as they are, and named", () => {
    const text = "A <!-- figures:flagship-intro -->hand-typed<!-- /figures --> figure.\n";
    assert.deepEqual(rewriteFigures(text, { bench: new Map() }), { text, left: ["flagship-intro"] });
  });

  test("an unknown region, or a figure its result file lacks, is refused by name", () => {
    const sources: FigureSources = {
      bench: new Map<string, BenchResult>([
        ["data", { bench: "data", commit: "c", date: "d", results: { events: 1e7 }, targets: [] }],
      ]),
    };
    assert.throws(() => rewriteFigures("<!-- figures:nonsense --><!-- /figures -->", sources), /"nonsense"/);
    assert.throws(
      () => rewriteFigures("<!-- figures:data --><!-- /figures -->", sources),
      /bench\/results\/data\.json: no results\.tsvLoadRowsPerSecond/,
    );
    assert.throws(
      () => rewriteFigures("<!-- figures:engine --><!-- /figures -->", sources),
      /bench\/results\/engine\.json: missing/,
    );
  });
});
