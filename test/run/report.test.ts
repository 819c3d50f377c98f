import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { renderReport, writeReport } from "../../src/run/report.js";
import type { ModelSummary, RunSummary } from "../../src/run/summary.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-report-"));
after(() => rmSync(dir, { recursive: true, force: true }));

function model(name: string, role: ModelSummary["role"], ndcg: number, parameters: number): ModelSummary {
  return {
    name,
    role,
    method: role === "distilled" ? "ranking" : undefined,
    metrics: {
      "NDCG@10": ndcg,
      "HR@10": ndcg * 2,
      "full:NDCG@10": ndcg / 2,
      "full:Recall@20": 0.3,
      "full:NDCG@20": 0.1,
    },
    parameters,
    bytes: parameters * 4,
    flopsPerItem: 32,
    latencyMs: 0.25,
    history: [
      { epoch: 1, loss: 0.6, metrics: { "NDCG@10": ndcg - 0.1 } },
      { epoch: 2, loss: 0.4, metrics: { "NDCG@10": ndcg } },
    ],
    artefact: `runs/x/models/${name}`,
  };
}

const run: RunSummary = {
  name: "unit",
  createdAt: "2024-05-01T12:00:00.000Z",
  dataset: { name: "synthetic <shop>", users: 1234, items: 567, interactions: 89012 },
  protocol: "leave-one-out; 499 sampled negatives; full ranking",
  models: [
    model("teacher-mf", "teacher", 0.5, 400_000),
    model("student", "student", 0.3, 20_000),
    model("student+ranking", "distilled", 0.41, 20_000),
  ],
};

describe("HTML report", () => {
  test("holds a table row per model, escaped text and inline SVG charts, with no external references", async () => {
    const html = await renderReport(run);
    assert.match(html, /^<!doctype html>/);
    for (const name of ["teacher-mf", "student", "student+ranking"]) {
      assert.match(html, new RegExp(`<tr class="role-\\w+"><td>${name.replace("+", "\\+")}<div`));
    }
    assert.match(html, /<td class="num best">0\.5000<\/td>/, "the best NDCG@10 is bold");
    assert.match(html, /<td class="num">0\.4100<\/td>/);
    assert.match(html, /1,234/);
    assert.match(html, /synthetic &lt;shop&gt;/);
    assert.equal((html.match(/<svg/g) ?? []).length, 2, "a scatter and the training curves");
    assert.match(html, /weights on disk, bytes \(log scale\)/);
    assert.match(html, /validation NDCG@10/);
    assert.doesNotMatch(html, /<script/i);
    assert.doesNotMatch(html, /\b(src|href)\s*=\s*["']?https?:/i);
    assert.doesNotMatch(html, /https?:\/\//);
  });

  test("a compressed model gets a table of its steps, rolled-back ones greyed, and its file size", async () => {
    const row = (step: string, status: "start" | "kept" | "rolled back", bytes: number, ndcg: number) => ({
      step,
      status,
      bytes,
      validNDCG10: ndcg,
      testNDCG10: ndcg,
      latencyMs: 0.02,
      note: status === "rolled back" ? "validation drop 5.0% > budget 2.0%" : "",
    });
    const compressed: ModelSummary = {
      ...model("student+ranking-compressed", "compressed", 0.4, 20_000),
      fileBytes: 20_000,
      compression: [
        row("fp32 (start)", "start", 80_000, 0.41),
        row("int8", "kept", 21_000, 0.4),
        row("prune 90%", "rolled back", 21_000, 0.3),
      ],
    };
    const html = await renderReport({ ...run, models: [...run.models, compressed] });
    assert.match(html, /<h2>Compression<\/h2>\n<h3>student\+ranking-compressed<\/h3>/);
    assert.match(
      html,
      /<tr class="step-kept"><td>int8<\/td><td>kept<\/td><td class="num">20\.5 KiB<\/td><td class="num">3\.8×<\/td>/,
    );
    assert.match(html, /<tr class="step-rolled-back"><td>prune 90%<\/td>.*validation drop 5\.0% &gt; budget 2\.0%/);
    assert.doesNotMatch(await renderReport(run), /<h2>Compression<\/h2>/);
  });

  test("a breakdown section shows segments, task heads and fidelity, each for the models that have them", async () => {
    const breakdown = (m: ModelSummary, extra: Record<string, number>): ModelSummary => ({
      ...m,
      metrics: {
        ...m.metrics,
        "segment:cold users:NDCG@10": m.metrics["NDCG@10"]! / 2,
        "segment:cold users:HR@10": 0.2,
        "segment:cold users:count": 250,
        "segment:long-tail items:NDCG@10": 0.05,
        "segment:long-tail items:HR@10": 0.1,
        "main:AUC": 0.8,
        "main:GAUC": 0.85,
        ...extra,
      },
    });
    const [teacher, student, distilled] = run.models as [ModelSummary, ModelSummary, ModelSummary];
    const html = await renderReport({
      ...run,
      models: [
        breakdown(teacher, { "conversion:AUC": 0.7, "conversion:GAUC": 0.65, "conversion:LogLoss": 0.3 }),
        breakdown(student, { "fidelity:overlap@10": 0.4, "fidelity:spearman": 0.6, "fidelity:kendall": 0.45 }),
        breakdown(distilled, {
          "conversion:LogLoss": 0.2,
          "fidelity:overlap@10": 0.5,
          "fidelity:spearman": 0.7,
          "fidelity:kendall": 0.55,
        }),
      ],
    });
    const section = html.slice(html.indexOf("<h2>Breakdown</h2>"), html.indexOf("<h2>Quality versus size</h2>"));
    const tables = section.split("<h3>").slice(1);
    assert.deepEqual(
      tables.map((t) => t.slice(0, t.indexOf("</h3>"))),
      ["Segments", "Task heads", "Fidelity to the teacher"],
    );
    const [segments, tasks, fidelity] = tables as [string, string, string];
    assert.match(segments, /<th colspan="2" class="group">cold users \(n = 250\)<\/th>/);
    assert.match(segments, /<th colspan="2" class="group">long-tail items<\/th>/);
    assert.match(tasks, /<th colspan="2" class="group">main<\/th><th colspan="3" class="group">conversion<\/th>/);
    assert.match(tasks, /<td class="num best">0\.2000<\/td>/, "the lowest LogLoss is the best");
    assert.doesNotMatch(fidelity, /teacher-mf/, "teachers have no fidelity row");
    assert.match(fidelity, /<td class="num best">0\.5000<\/td>/);
    assert.equal((html.match(/<table>/g) ?? []).length, 4);
    assert.doesNotMatch(await renderReport(run), /Breakdown/, "no section without breakdown metrics");
  });

  test("the popularity reference has a row in the models table and beside the models beyond accuracy", async () => {
    const beyond = (coverage: number, gini: number) => ({
      "full:Coverage@10": coverage,
      "full:Gini@10": gini,
      "full:LongTailShare@10": coverage / 2,
      "full:Novelty@10": 7,
      "full:LongTailNDCG@10": 0.01,
    });
    const models = run.models.map((m, i) => ({ ...m, metrics: { ...m.metrics, ...beyond(0.2 + i / 10, 0.9) } }));
    const references = [
      {
        name: "popularity",
        description: "the most popular training items",
        metrics: { "NDCG@10": 0.2, "full:NDCG@10": 0.05, ...beyond(0.01, 0.99) },
      },
    ];
    const html = await renderReport({ ...run, models, references });
    assert.equal((html.match(/<tr class="role-reference"><td>popularity/g) ?? []).length, 2);
    assert.match(
      html,
      /<td>popularity<div class="artefact">the most popular training items<\/div><\/td><td>reference<\/td>/,
    );
    assert.match(html, /<h3>Beyond accuracy<\/h3>/);
    // Coverage: the widest model's is best; Gini: lower is better.
    assert.match(html, /<td class="num best">0\.4000<\/td><td class="num best">0\.9000<\/td>/);
    assert.match(html, /<td>reference<\/td><td class="num">0\.0100<\/td><td class="num">0\.9900<\/td>/);
    assert.match(html, /<h2>Accuracy versus coverage<\/h2>\n<svg/);
    assert.equal((html.match(/<svg/g) ?? []).length, 3, "the scatter, accuracy versus coverage, the curves");
    assert.doesNotMatch(await renderReport(run), /<h3>Beyond accuracy|<tr class="role-reference"|versus coverage/);
  });

  test("a run without history still renders, saying so", async () => {
    const bare = { ...run, models: run.models.map((m) => ({ ...m, history: [] })) };
    const html = await renderReport(bare);
    assert.match(html, /No training history was recorded/);
    assert.equal((html.match(/<svg/g) ?? []).length, 1);
  });

  test("writeReport creates the directories and the file", async () => {
    const path = join(dir, "nested", "report.html");
    await writeReport(path, run);
    assert.match(readFileSync(path, "utf8"), /<h1>distillrec run <span class="name">unit<\/span><\/h1>/);
  });
});
