import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command, CommanderError } from "commander";
import {
  UsageError,
  beyondAccuracyTable,
  breakdownTables,
  metricsReport,
  metricsTable,
  specFor,
  type CommandDeps,
} from "../../src/cli/commands/common.js";
import { compressCommand, compressCommandAction } from "../../src/cli/commands/compress.js";
import { distill, distillCommand } from "../../src/cli/commands/distill.js";
import { evaluate, evaluateCommand } from "../../src/cli/commands/evaluate.js";
import { runCommand, runConfig } from "../../src/cli/commands/run.js";
import { trainTeacherCommand } from "../../src/cli/commands/train-teacher.js";
import { METHOD_PRESETS, validatePipelineConfig } from "../../src/run/config.js";
import { runPipeline } from "../../src/run/pipeline.js";
import type { ModelSummary, RunSummary } from "../../src/run/summary.js";
import type { StepReport } from "../../src/run/compression.js";
import { loadArtefact } from "../../src/models/artefact.js";
import { loadParameters } from "../../src/engine/serialize.js";
import { tinyPipelineConfig } from "../helpers/pipeline.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-cli-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const silent = { info() {}, warn() {} };

/** The help text of a command, captured instead of printed, and the exit code commander chose. */
function help(command: Command): { out: string; exitCode: number } {
  let out = "";
  command.exitOverride().configureOutput({ writeOut: (s) => (out += s), writeErr: (s) => (out += s) });
  try {
    command.parse(["--help"], { from: "user" });
  } catch (err) {
    assert.ok(err instanceof CommanderError);
    return { out, exitCode: err.exitCode };
  }
  assert.fail("--help did not exit");
}

describe("pipeline commands: --help", () => {
  const cases: [string, () => Command, string[]][] = [
    ["run", runCommand, ["--config <file>", "--out <dir>", "--threads <n>", "--json", "--quiet"]],
    [
      "train-teacher",
      trainTeacherCommand,
      ["--config <file>", "--data <path>", "--model <kind>", "--dim <n>", "--epochs <n>", "--out <dir>"],
    ],
    ["distill", distillCommand, ["--teacher <dir>", "--student <kind>", "--method <name>", "--out <dir>", "--data"]],
    ["evaluate", evaluateCommand, ["--model <dir>", "--data <path>", "--json", "--negatives <n>"]],
    ["compress", compressCommand, ["--model <dir>", "--steps <list>", "--budget <fraction>", "--on-exceed", "--out"]],
  ];
  for (const [name, make, options] of cases) {
    test(`${name} --help lists its options`, () => {
      const { out, exitCode } = help(make());
      assert.equal(exitCode, 0);
      assert.match(out, new RegExp(`^Usage: ${name} \\[options\\]`));
      for (const option of options) assert.ok(out.includes(option), `"${option}" missing from:\n${out}`);
    });
  }

  test("distill --help names every method", () => {
    const { out } = help(distillCommand());
    for (const method of ["none", "ranking", "listwise", "pointwise", "relaxed-ranking", "hint"]) {
      assert.ok(out.includes(`"${method}"`), method);
    }
  });
});

describe("pipeline commands: user errors", () => {
  test("an unknown model kind is a UsageError", () => {
    assert.throws(() => specFor("resnet", 8, 0), UsageError);
    assert.deepEqual(specFor("neumf", 8, 1), { kind: "neumf", gmfDim: 8, mlpSizes: [16, 8], seed: 1 });
  });

  test("a missing teacher artefact and a bad config are refused with their names", async () => {
    await assert.rejects(distill({ teacher: join(dir, "none") }, { log: silent }), /none: not a model artefact/);
    assert.throws(() => runConfig({ config: join(dir, "absent.yaml") }), /absent\.yaml: cannot read/);
  });

  test("the run config takes --out and --threads over the default pipeline's", () => {
    const config = runConfig({ out: "elsewhere", threads: 3 });
    assert.equal(config.output.dir, "elsewhere");
    assert.equal(config.threads, 3);
    assert.equal(config.name, "default");
  });

  test("metrics tables put sampled and full-ranking values side by side", () => {
    const lines = metricsTable({ "NDCG@10": 0.5, "full:NDCG@10": 0.25, "HR@20": 1, "full:HR@20": 0.75 }).split("\n");
    assert.deepEqual(
      lines.map((l) => l.split(/ +/)),
      [
        ["metric", "sampled", "full", "ranking"],
        ["NDCG@10", "0.5000", "0.2500"],
        ["HR@20", "1.0000", "0.7500"],
      ],
    );
  });

  test("beyond-accuracy metrics get their own table, one row per k, and stay out of the ranking table", () => {
    const metrics = {
      "NDCG@10": 0.5,
      "full:NDCG@10": 0.25,
      "full:Coverage@10": 0.125,
      "full:Gini@10": 0.875,
      "full:LongTailShare@10": 0.0625,
      "full:Novelty@10": 7.5,
      "full:Coverage@20": 0.25,
    };
    assert.deepEqual(
      beyondAccuracyTable(metrics)
        .split("\n")
        .map((l) => l.trim().split(/ +/)),
      [
        ["beyond", "accuracy", "Coverage", "Gini", "LongTailShare", "Novelty", "LongTailNDCG"],
        ["top", "10", "0.1250", "0.8750", "0.0625", "7.5000", "–"],
        ["top", "20", "0.2500", "–", "–", "–", "–"],
      ],
    );
    assert.doesNotMatch(metricsTable(metrics), /Coverage|Gini|LongTail|Novelty/);
    assert.equal(beyondAccuracyTable({ "NDCG@10": 0.5, "full:NDCG@10": 0.25 }), "");
    assert.equal(metricsReport(metrics), `${metricsTable(metrics)}\n\n${beyondAccuracyTable(metrics)}`);
  });

  test("breakdown tables: one grid per segment, task head and fidelity; the ranking table leaves them out", () => {
    const metrics = {
      "NDCG@10": 0.5,
      "segment:cold users:NDCG@10": 0.25,
      "segment:cold users:count": 12,
      "segment:long-tail items:NDCG@10": 0.125,
      "segment:long-tail items:count": 30,
      "main:AUC": 0.75,
      "conversion:AUC": 0.625,
      "conversion:LogLoss": 0.5,
      "fidelity:overlap@10": 0.375,
    };
    const rows = breakdownTables(metrics)
      .split("\n")
      .map((l) => l.trim().split(/ {2,}/));
    assert.deepEqual(rows, [
      ["segment", "NDCG@10", "count"],
      ["cold users", "0.2500", "12"],
      ["long-tail items", "0.1250", "30"],
      [""],
      ["task", "AUC", "LogLoss"],
      ["main", "0.7500", "–"],
      ["conversion", "0.6250", "0.5000"],
      [""],
      ["fidelity", "overlap@10"],
      ["to teacher", "0.3750"],
    ]);
    assert.equal(breakdownTables({ "NDCG@10": 0.5, "full:NDCG@10": 0.25 }), "");
    assert.equal(metricsReport(metrics), `${metricsTable(metrics)}\n\n${breakdownTables(metrics)}`);
    assert.doesNotMatch(metricsTable(metrics), /cold|AUC|overlap/);
  });
});

describe("end-to-end: a tiny pipeline", () => {
  const out = join(dir, "run");
  // A budget of 0.99 keeps both steps, so the compressed model shows each.
  const config = tinyPipelineConfig(out, { steps: ["int8", "prune:0.5"], budget: 0.99, fineTuneEpochs: 1 });

  let summary: RunSummary;

  test("writes artefacts, summary.json and report.html", async () => {
    summary = await runPipeline(config, { log: silent });
    assert.deepEqual(
      summary.models.map((m) => [m.name, m.role, m.method]),
      [
        ["teacher", "teacher", undefined],
        ["student-ranking", "distilled", "ranking"],
        ["student-ranking-compressed", "compressed", "ranking"],
      ],
    );
    for (const m of summary.models) {
      assert.ok(m.metrics["NDCG@10"]! >= 0 && m.metrics["NDCG@10"]! <= 1);
      assert.ok(m.metrics["full:Recall@20"] !== undefined);
      for (const key of ["main:AUC", "main:GAUC", "segment:cold users:NDCG@10", "segment:long-tail items:HR@10"]) {
        assert.ok(Number.isFinite(m.metrics[key]), `${m.name} ${key}`);
      }
      // Single-head BPR-MF models have no conversion head; only students have a teacher to be faithful to.
      assert.equal(m.metrics["conversion:AUC"], undefined);
      assert.equal(m.metrics["fidelity:overlap@10"] !== undefined, m.role !== "teacher");
      assert.equal(m.history.length, m.role === "compressed" ? 0 : 2);
      const loaded = loadArtefact(m.artefact!);
      assert.equal(loaded.manifest.parameters, m.parameters);
      assert.equal(loaded.manifest.files["weights.bin"].bytes, m.fileBytes);
    }
    // The compressed student: the same parameters as its source in a quarter of the file (the fixed header is a
    // large share of so small a file), every step reported.
    const [, source, compressed] = summary.models as [ModelSummary, ModelSummary, ModelSummary];
    assert.equal(compressed.parameters, source.parameters);
    assert.ok(compressed.fileBytes! < 0.3 * source.fileBytes!, `${compressed.fileBytes} vs ${source.fileBytes}`);
    assert.deepEqual(
      compressed.compression!.map((r) => [r.step, r.status]),
      [
        ["fp32 (start)", "start"],
        ["int8", "kept"],
        ["prune 50%", "kept"],
      ],
    );
    assert.equal(compressed.compression!.at(-1)!.bytes, compressed.fileBytes);
    assert.equal(loadArtefact(compressed.artefact!).manifest.lineage.compressedFrom, "student-ranking");
    const student = loadArtefact(join(out, "models", "student-ranking")).manifest;
    const teacher = loadArtefact(join(out, "models", "teacher")).manifest;
    assert.equal(student.lineage.teacher, teacher.id);
    assert.equal(student.lineage.method, "ranking");
    const written = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary;
    assert.equal(written.models.length, 3);
    assert.equal(written.dataset.users, 200);
    const html = readFileSync(join(out, "report.html"), "utf8");
    assert.match(html, /student-ranking/);
    assert.match(html, /<svg/);
    assert.match(html, /<h3>Fidelity to the teacher<\/h3>/);
    assert.match(html, /<h2>Compression<\/h2>\n<h3>student-ranking-compressed<\/h3>/);
    assert.ok(existsSync(join(out, "soft-labels", "teacher.soft")));
  });

  test("distill and evaluate work from the saved teacher artefact", async () => {
    let printed = "";
    const deps: CommandDeps = { log: silent, print: (t) => (printed += `${t}\n`) };
    const studentDir = join(dir, "distilled");
    const result = await distill(
      {
        teacher: join(out, "models", "teacher"),
        student: "bpr-mf",
        dim: 4,
        method: "listwise",
        epochs: 1,
        threads: 1,
        out: studentDir,
        progress: false,
      },
      deps,
    );
    assert.match(printed, /saved to .*distilled/);
    assert.equal(result.manifest.lineage.method, "listwise");
    const evaluated = await evaluate({ model: studentDir, json: true, negatives: 50 }, deps);
    assert.equal(evaluated.kind, "bpr-mf");
    assert.equal(evaluated.droppedRows, 0);
    assert.ok(evaluated.metrics["NDCG@10"]! >= 0);
    assert.ok(evaluated.metrics["segment:cold users:NDCG@10"]! >= 0 && evaluated.metrics["main:AUC"]! >= 0);
    // Beyond accuracy from the full ranking, and the popularity reference under the same protocol.
    for (const key of ["full:Coverage@10", "full:Gini@10", "full:LongTailShare@10", "full:Novelty@10"]) {
      assert.ok(Number.isFinite(evaluated.metrics[key]), key);
      assert.ok(Number.isFinite(evaluated.reference.metrics[key]), `reference ${key}`);
    }
    assert.equal(evaluated.reference.name, "popularity");
    // Its teacher lives elsewhere: no fidelity unless --teacher names it.
    assert.equal(evaluated.teacher, undefined);
    assert.equal(evaluated.metrics["fidelity:overlap@10"], undefined);
    const teacherDir = join(out, "models", "teacher");
    const against = await evaluate({ model: studentDir, teacher: teacherDir, json: true, negatives: 50 }, deps);
    assert.equal(against.teacher, teacherDir);
    assert.equal(against.metrics["fidelity:overlap@10"], result.metrics["fidelity:overlap@10"]);
  });

  test("compress saves an ordinary artefact stored as its steps say, fine-tuned from the lineage's teacher", async () => {
    let printed = "";
    const deps: CommandDeps = { log: silent, print: (t) => (printed += `${t}\n`) };
    const student = join(out, "models", "student-ranking");
    const compressed = join(dir, "compressed");
    // A budget of 0.99 keeps every step, so the saved file shows each one.
    const result = await compressCommandAction(
      { model: student, steps: "int8,prune:0.5", budget: 0.99, fineTuneEpochs: 1, threads: 1, out: compressed },
      deps,
    );
    assert.deepEqual(
      result.steps.map((s) => [s.step, s.status]),
      [
        ["fp32 (start)", "start"],
        ["int8", "kept"],
        ["prune 50%", "kept"],
      ],
    );
    assert.equal(result.teacher?.id, loadArtefact(join(out, "models", "teacher")).manifest.id);
    assert.match(printed, /^step +status +weights bytes +vs teacher/m);
    assert.match(printed, /saved to .*compressed/);
    const [start, int8, pruned] = result.steps as [StepReport, StepReport, StepReport];
    assert.ok(
      int8.bytes < 0.35 * start.bytes && pruned.bytes < int8.bytes,
      `${start.bytes} ${int8.bytes} ${pruned.bytes}`,
    );

    // The file stores every matrix as sparse int8 holding at most half its values.
    const { tensors } = loadParameters(join(compressed, "weights.bin"));
    for (const [name, t] of tensors) {
      if (t.shape.length < 2) continue;
      assert.equal(t.dtype, "i8", name);
      assert.equal(t.layout, "sparse", name);
      assert.ok(t.stored <= Math.round(0.5 * t.data.length), `${name}: ${t.stored} of ${t.data.length}`);
    }
    // Loading it gives back exactly what was evaluated, and the lineage records the steps.
    const loaded = loadArtefact(compressed);
    assert.equal(loaded.manifest.lineage.compressedFrom, loadArtefact(student).manifest.id);
    const recorded = loaded.manifest.lineage.compression as { step: string; status: string; bytes: number }[];
    assert.deepEqual(
      recorded.map((r) => [r.step, r.status, r.bytes]),
      result.steps.map((s) => [s.step, s.status, s.bytes]),
    );
    const evaluated = await evaluate({ model: compressed, negatives: 499, fullRanking: false }, deps);
    assert.equal(evaluated.metrics["NDCG@10"], result.metrics["NDCG@10"]);
  });

  test("compress refuses unknown steps", async () => {
    await assert.rejects(
      compressCommandAction({ model: join(out, "models", "student-ranking"), steps: "int4" }, { log: silent }),
      (err) => err instanceof UsageError && /unknown compression step "int4"/.test(err.message),
    );
  });

  test("evaluate finds the lineage's teacher beside a run's student and prints every table", async () => {
    let printed = "";
    const deps: CommandDeps = { log: silent, print: (t) => (printed += `${t}\n`) };
    const student = join(out, "models", "student-ranking");
    const evaluated = await evaluate({ model: student, negatives: 50, fullRanking: false }, deps);
    assert.equal(evaluated.teacher, join(out, "models", "teacher"));
    const recorded = summary.models.find((m) => m.name === "student-ranking")!.metrics;
    assert.equal(evaluated.metrics["fidelity:kendall"], recorded["fidelity:kendall"]);
    assert.equal(evaluated.metrics["main:GAUC"], recorded["main:GAUC"]);
    const headings = [/^metric +sampled$/m, /^segment +HR@10 +NDCG@10/m, /^task +AUC +GAUC$/m, /^to teacher /m];
    for (const heading of [...headings, /^reference: popularity \(.*\): test NDCG@10 \d/m]) {
      assert.match(printed, heading);
    }
  });
});

describe("end-to-end: hint distillation", () => {
  const out = join(dir, "hint-run");
  const config = validatePipelineConfig({
    name: "tiny-hint",
    threads: 1,
    data: { kind: "synthetic", synthetic: { users: 200, items: 100, events: 5000 } },
    evaluation: { negatives: 50, validationNegatives: 20, fullRanking: false },
    teachers: [{ name: "teacher", model: { kind: "two-tower", dim: 16, seed: 1 }, train: { epochs: 2 } }],
    student: { model: { kind: "two-tower", dim: 4, seed: 2 }, train: { epochs: 2 } },
    distillation: { methods: [{ name: "hint", weights: { ...METHOD_PRESETS.hint } }] },
    output: { dir: out },
  });

  test("the pipeline's hint method trains the student against the best teacher, without soft labels", async () => {
    const summary = await runPipeline(config, { log: silent });
    assert.deepEqual(
      summary.models.map((m) => [m.name, m.role, m.method]),
      [
        ["teacher", "teacher", undefined],
        ["student-hint", "distilled", "hint"],
      ],
    );
    assert.equal(summary.models[1]!.history.length, 2);
    assert.ok(!existsSync(join(out, "soft-labels")), "no soft labels were generated");
  });

  test("distill --method hint works from the teacher artefact and refuses a student without a representation", async () => {
    const teacher = join(out, "models", "teacher");
    const common = { teacher, method: "hint", epochs: 1, threads: 1, progress: false };
    const result = await distill(
      { ...common, student: "two-tower", dim: 4, out: join(dir, "hinted") },
      { log: silent, print() {} },
    );
    assert.equal(result.manifest.lineage.method, "hint");
    assert.equal(result.manifest.lineage.role, "distilled");
    await assert.rejects(
      distill({ ...common, student: "bpr-mf", dim: 4, out: join(dir, "no-hint") }, { log: silent, print() {} }),
      /the student \(bpr-mf\) has no representation/,
    );
  });
});

describe("end-to-end: a model that learns nothing", () => {
  const out = join(dir, "failure-run");
  const config = validatePipelineConfig({
    name: "tiny-failure",
    threads: 1,
    data: { kind: "synthetic", synthetic: { users: 200, items: 100, events: 5000 } },
    evaluation: { negatives: 50, validationNegatives: 20, fullRanking: false },
    teachers: [
      // Weight decay this strong against a mean loss takes every row to zero: BPR's loss sits at ln 2.
      {
        name: "collapsed",
        model: { kind: "bpr-mf", dim: 8, seed: 1 },
        train: { epochs: 8, patience: 8, weightDecay: 50, tableUpdates: "dense", lr: 0.01 },
      },
      { name: "teacher", model: { kind: "bpr-mf", dim: 8, seed: 1 }, train: { epochs: 2, lr: 0.01 } },
    ],
    student: { model: { kind: "bpr-mf", dim: 4, seed: 2 }, train: { epochs: 2 } },
    distillation: { methods: [{ name: "none", weights: { hard: 1 } }] },
    output: { dir: out },
  });

  test("is stopped, recorded in the summary and the report with the reason, and the run goes on", async () => {
    const summary = await runPipeline(config, { log: silent });
    assert.deepEqual(
      summary.models.map((m) => m.name),
      ["teacher", "student-none"],
    );
    assert.equal(summary.failures?.length, 1);
    const [failure] = summary.failures!;
    assert.equal(failure!.model, "collapsed");
    assert.equal(failure!.reason, "random-loss");
    assert.match(failure!.message, /weight decay too strong/);
    const report = readFileSync(join(out, "report.html"), "utf8");
    assert.match(report, /Training failures/);
    assert.match(report, /<strong>collapsed<\/strong> \(epoch \d+\): train: the loss has stayed at 0\.6931/);
    const saved = JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as { failures: unknown[] };
    assert.equal(saved.failures.length, 1);
  });
});
