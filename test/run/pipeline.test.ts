import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validatePipelineConfig } from "../../src/run/config.js";
import { runPipeline } from "../../src/run/pipeline.js";
import type { RunSummary } from "../../src/run/summary.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-pipeline-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const silent = { info() {}, warn() {} };

/** The beyond-accuracy metrics every evaluation with full ranking reports, at k = 10 and 20. */
const BEYOND = ["Coverage", "Gini", "LongTailShare", "Novelty", "LongTailNDCG"].flatMap((name) =>
  [10, 20].map((k) => `full:${name}@${k}`),
);

describe("a run's summary beyond accuracy", () => {
  const config = validatePipelineConfig({
    name: "tiny-beyond",
    threads: 1,
    data: { kind: "synthetic", synthetic: { users: 150, items: 80, events: 3000 } },
    evaluation: { negatives: 30, validationNegatives: 20 },
    teachers: [{ name: "teacher", model: { kind: "bpr-mf", dim: 8, seed: 1 }, train: { epochs: 1 } }],
    student: { model: { kind: "bpr-mf", dim: 2, seed: 2 }, train: { epochs: 1 } },
    distillation: { methods: [{ name: "none", weights: { hard: 1 } }] },
    output: { dir: join(dir, "run") },
  });

  test("summary.json has the beyond-accuracy metrics for every model and the popularity reference", async () => {
    await runPipeline(config, { log: silent });
    const summary = JSON.parse(readFileSync(join(dir, "run", "summary.json"), "utf8")) as RunSummary;
    assert.deepEqual(
      summary.models.map((m) => m.name),
      ["teacher", "student-none"],
      "the reference is not among the models",
    );
    const [reference, ...others] = summary.references ?? [];
    assert.equal(others.length, 0);
    assert.equal(reference?.name, "popularity");
    for (const { name, metrics } of [...summary.models, reference!]) {
      for (const key of [...BEYOND, "NDCG@10", "full:NDCG@10", "segment:long-tail items:NDCG@10"]) {
        assert.ok(Number.isFinite(metrics[key]), `${name} ${key}`);
      }
      for (const key of ["full:Coverage@10", "full:Gini@10", "full:LongTailShare@10", "full:LongTailNDCG@10"]) {
        assert.ok(metrics[key]! >= 0 && metrics[key]! <= 1, `${name} ${key} = ${metrics[key]}`);
      }
      assert.ok(metrics["full:Novelty@10"]! > 0, name);
    }
    const html = readFileSync(join(dir, "run", "report.html"), "utf8");
    assert.match(html, /<h3>Beyond accuracy<\/h3>/);
    assert.match(html, /<tr class="role-reference"><td>popularity/);
  });
});
