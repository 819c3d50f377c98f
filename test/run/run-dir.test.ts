import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { tinyPipelineConfig } from "../helpers/pipeline.js";
import { silent } from "../../src/run/log.js";
import { runPipeline } from "../../src/run/pipeline.js";
import type { RunSummary } from "../../src/run/summary.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-run-dir-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("a run re-run into its own directory", () => {
  const out = join(dir, "run");
  const models = join(out, "models");

  test("keeps only the new run's models and whatever else was there", async () => {
    await runPipeline(tinyPipelineConfig(out, { steps: ["int8"], budget: 0.99, fineTuneEpochs: 1 }), { log: silent });
    assert.ok(existsSync(join(models, "student-ranking-compressed")));

    // Things no run wrote: a file beside the run's, a file among the models, and a copy of a model the earlier
    // summary does not list.
    writeFileSync(join(out, "notes.txt"), "mine");
    writeFileSync(join(models, "README.txt"), "mine");
    cpSync(join(models, "teacher"), join(models, "my-teacher"), { recursive: true });

    const summary = await runPipeline(tinyPipelineConfig(out), { log: silent });

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
    await runPipeline(tinyPipelineConfig(out, { steps: ["int8"], budget: 0.99, fineTuneEpochs: 1 }), { log: silent });
    const compressed = join(models, "student-ranking-compressed");
    mkdirSync(join(compressed, "plots"));
    writeFileSync(join(compressed, "plots", "loss.svg"), "<svg/>");

    await runPipeline(tinyPipelineConfig(out), { log: silent });

    assert.deepEqual(readdirSync(compressed, { recursive: true }).sort(), ["plots", join("plots", "loss.svg")]);
  });
});
