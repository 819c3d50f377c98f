import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { validatePipelineConfig } from "../../src/run/config.js";
import { silent } from "../../src/run/log.js";
import { runPipeline } from "../../src/run/pipeline.js";
import type { RunSummary } from "../../src/run/summary.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-run-dir-"));
after(() => rmSync(dir, { recursive: true, force: true }));

/** The tiny pipeline of test/cli/pipeline-commands.test.ts, with or without its compression stage. */
function tinyConfig(out: string, compress: boolean) {
  return validatePipelineConfig({
    name: "tiny",
    threads: 1,
    data: { kind: "synthetic", synthetic: { users: 200, items: 100, events: 5000 } },
    evaluation: { negatives: 50, validationNegatives: 20 },
    teachers: [{ name: "teacher", model: { kind: "bpr-mf", dim: 16, seed: 1 }, train: { epochs: 2 } }],
    student: { model: { kind: "bpr-mf", dim: 4, seed: 2 }, train: { epochs: 2 } },
    distillation: {
      methods: [{ name: "ranking", weights: { hard: 1, ranking: 0.5 } }],
      softLabels: { negatives: 10, topK: 5 },
    },
    ...(compress ? { compression: { steps: ["int8"], budget: 0.99, fineTuneEpochs: 1 } } : {}),
    output: { dir: out },
  });
}

describe("a run re-run into its own directory", () => {
  const out = join(dir, "run");
  const models = join(out, "models");

  test("keeps only the new run's models and whatever else was there", async () => {
    await runPipeline(tinyConfig(out, true), { log: silent });
    assert.ok(existsSync(join(models, "student-ranking-compressed")));

    // Things no run wrote: a file beside the run's, a file among the models, and a copy of a model the earlier
    // summary does not list.
    writeFileSync(join(out, "notes.txt"), "mine");
    writeFileSync(join(models, "README.txt"), "mine");
    cpSync(join(models, "teacher"), join(models, "my-teacher"), { recursive: true });

    const summary = await runPipeline(tinyConfig(out, false), { log: silent });

    const written = summary.models.map((m) => m.name);
    assert.deepEqual(written, ["teacher", "student-ranking"]);
    assert.deepEqual(readdirSync(models).sort(), ["README.txt", "my-teacher", "student-ranking", "teacher"]);
    assert.equal(readFileSync(join(out, "notes.txt"), "utf8"), "mine");
    assert.equal(readFileSync(join(models, "README.txt"), "utf8"), "mine");
    const listed = (JSON.parse(readFileSync(join(out, "summary.json"), "utf8")) as RunSummary).models;
    assert.deepEqual(
      listed.map((m) => m.artefact),
      written.map((name) => join(models, name)),
    );
    assert.ok(listed.every((m) => existsSync(join(m.artefact!, "manifest.json"))));
  });

  test("leaves a user's files inside a model directory it removes", async () => {
    await runPipeline(tinyConfig(out, true), { log: silent });
    const compressed = join(models, "student-ranking-compressed");
    mkdirSync(join(compressed, "plots"));
    writeFileSync(join(compressed, "plots", "loss.svg"), "<svg/>");

    await runPipeline(tinyConfig(out, false), { log: silent });

    assert.deepEqual(readdirSync(compressed, { recursive: true }).sort(), ["plots", join("plots", "loss.svg")]);
  });
});
