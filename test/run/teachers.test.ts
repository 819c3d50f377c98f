import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadSoftLabels, modelFingerprint } from "../../src/distill/soft-label-cache.js";
import { loadArtefact } from "../../src/models/artefact.js";
import { validatePipelineConfig } from "../../src/run/config.js";
import { runPipeline } from "../../src/run/pipeline.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-teachers-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const silent = { info() {}, warn() {} };

describe("the teacher stage picks the best teacher by validation NDCG@10", () => {
  const out = join(dir, "run");
  // A learning rate this small leaves a teacher at its random start after one epoch. The trained one
  // sits between two such, so keeping the first or the last teacher would not pick it.
  const barelyTrained = { epochs: 1, lr: 1e-6 };
  const config = validatePipelineConfig({
    name: "three-teachers",
    threads: 1,
    data: { kind: "synthetic", synthetic: { users: 200, items: 100, events: 5000 } },
    evaluation: { negatives: 50, validationNegatives: 20, fullRanking: false },
    teachers: [
      { name: "untrained-a", model: { kind: "bpr-mf", dim: 16, seed: 1 }, train: barelyTrained },
      { name: "trained", model: { kind: "bpr-mf", dim: 16, seed: 2 }, train: { epochs: 20, lr: 0.05 } },
      { name: "untrained-b", model: { kind: "bpr-mf", dim: 16, seed: 3 }, train: barelyTrained },
    ],
    student: { model: { kind: "bpr-mf", dim: 4, seed: 4 }, train: { epochs: 1 } },
    distillation: {
      methods: [{ name: "ranking", weights: { hard: 1, ranking: 0.5 } }],
      softLabels: { negatives: 10, topK: 5 },
    },
    output: { dir: out },
  });

  test("and the soft labels and the student come from it", async () => {
    const summary = await runPipeline(config, { log: silent });
    const teachers = summary.models.filter((m) => m.role === "teacher");
    assert.deepEqual(
      teachers.map((m) => m.name),
      ["untrained-a", "trained", "untrained-b"],
    );
    const artefacts = new Map(teachers.map((m) => [m.name, loadArtefact(m.artefact!)]));
    const valid = (name: string): number => artefacts.get(name)!.manifest.metrics["valid:NDCG@10"]!;
    // The setup must make the choice matter: the trained teacher is clearly the best on validation.
    for (const name of ["untrained-a", "untrained-b"]) {
      assert.ok(valid("trained") > valid(name) + 0.05, `trained ${valid("trained")} vs ${name} ${valid(name)}`);
    }

    const chosen = artefacts.get("trained")!;
    const student = summary.models.find((m) => m.name === "student-ranking")!;
    assert.equal(loadArtefact(student.artefact!).manifest.lineage.teacher, chosen.manifest.id);
    // Soft labels were generated once, from the chosen teacher's weights.
    assert.deepEqual(readdirSync(join(out, "soft-labels")), ["trained.soft"]);
    const { meta } = loadSoftLabels(join(out, "soft-labels", "trained.soft"));
    assert.equal(meta.teacher, modelFingerprint(chosen.model));
    assert.notEqual(meta.teacher, modelFingerprint(artefacts.get("untrained-a")!.model));
  });
});
