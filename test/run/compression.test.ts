import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { compress, parseSteps, type CompressionStep, type Quality } from "../../src/run/compression.js";
import { reconstruct, lowRank } from "../../src/engine/codecs/lowrank.js";
import { IdMap } from "../../src/data/idmap.js";
import { loadParameters } from "../../src/engine/serialize.js";
import { loadArtefact, saveArtefact } from "../../src/models/artefact.js";
import { createModel, type ModelSpec, type Recommender } from "../../src/models/index.js";

const dir = mkdtempSync(join(tmpdir(), "distillrec-schedule-"));
after(() => rmSync(dir, { recursive: true, force: true }));

const spec: ModelSpec = { kind: "bpr-mf", dim: 32, seed: 7 };
const context = { numUsers: 1000, numItems: 600 };

function freshModel(): Recommender {
  const model = createModel(spec, context);
  // Rows of different scales, as trained tables have.
  for (const [, t] of model.namedParameters()) t.data.forEach((v, i) => (t.data[i] = v * (1 + (i % 7))));
  return model;
}

function values(model: Recommender): Float32Array[] {
  return model.parameters().map((p) => p.data.slice());
}

/** A stand-in quality: 1 minus the parameters' relative distance from `reference` (no data needed). */
function closeness(reference: Float32Array[]): (model: Recommender) => Quality {
  return (model) => {
    let diff = 0;
    let norm = 0;
    model.parameters().forEach((p, k) => {
      p.data.forEach((v, i) => {
        diff += (v - reference[k]![i]!) ** 2;
        norm += reference[k]![i]! ** 2;
      });
    });
    const validation = 1 - Math.sqrt(diff / norm);
    return { validation, test: { "NDCG@10": validation } };
  };
}

async function run(steps: CompressionStep[], budget = 1, onExceed: "rollback" | "stop" = "rollback") {
  const model = freshModel();
  const original = values(model);
  const result = await compress({
    spec,
    model,
    steps,
    budget,
    onExceed,
    evaluate: closeness(original),
    latency: () => 0,
  });
  return { original, result };
}

function save(name: string, result: Awaited<ReturnType<typeof run>>["result"]): string {
  const out = join(dir, name);
  saveArtefact(out, {
    model: result.model,
    spec: result.spec,
    users: IdMap.fromJSON(Array.from({ length: context.numUsers }, (_, u) => `u${u}`)),
    items: IdMap.fromJSON(Array.from({ length: context.numItems }, (_, i) => `i${i}`)),
    storage: result.storage,
  });
  return out;
}

/** The saved artefact loads to exactly the parameters compression evaluated. */
function assertLoadsExactly(out: string, model: Recommender): void {
  const loaded = loadArtefact(out).model;
  const expected = new Map(model.namedParameters());
  for (const [name, t] of loaded.namedParameters()) assert.deepEqual(t.data, expected.get(name)!.data, name);
}

describe("compression schedule", () => {
  test("parses steps and refuses unknown ones with the accepted forms", () => {
    assert.deepEqual(parseSteps("fp16, int8,prune:0.5:columns,lowrank:0.8,lowrank:r4", 3), [
      { kind: "fp16" },
      { kind: "int8" },
      { kind: "prune", sparsity: 0.5, structure: "columns", fineTuneEpochs: 3 },
      { kind: "lowrank", energy: 0.8, fineTuneEpochs: 3 },
      { kind: "lowrank", rank: 4, fineTuneEpochs: 3 },
    ]);
    assert.throws(() => parseSteps("prune:1.5"), /sparsity must be in \(0, 1\)/);
    assert.throws(() => parseSteps("prune:0.5:diagonal"), /structure must be weights, columns or rows/);
    assert.throws(() => parseSteps("lowrank:r0"), /rank must be a positive integer/);
    assert.throws(() => parseSteps("int4"), /unknown compression step "int4" \(known: fp16, int8, prune/);
  });

  test("int8 stores a quarter of the bytes plus scales, and the artefact loads what was evaluated", async () => {
    const { result } = await run([{ kind: "fp16" }, { kind: "int8" }]);
    const [start, fp16, int8] = result.steps;
    assert.ok(fp16!.bytes < 0.51 * start!.bytes);
    assert.ok(int8!.bytes <= 0.27 * start!.bytes, `${int8!.bytes} of ${start!.bytes}`);
    // Quantising 32-value rows loses well under 1% of the parameters' norm.
    assert.ok(int8!.validation > 0.99 && int8!.validation < 1, `${int8!.validation}`);
    const out = save("int8", result);
    assertLoadsExactly(out, result.model);
    for (const [, t] of loadParameters(join(out, "weights.bin")).tensors) assert.equal(t.dtype, "i8");
  });

  test("pruning hits the requested sparsity in every matrix, stored sparse", async () => {
    for (const structure of ["weights", "columns", "rows"] as const) {
      const { result } = await run([{ kind: "prune", sparsity: 0.75, structure }]);
      const out = save(`prune-${structure}`, result);
      assertLoadsExactly(out, result.model);
      for (const [name, t] of loadParameters(join(out, "weights.bin")).tensors) {
        assert.equal(t.layout, "sparse", name);
        const zeros = t.data.filter((v) => v === 0).length;
        assert.ok(zeros >= 0.75 * t.data.length, `${structure} ${name}: ${zeros} zeros of ${t.data.length}`);
        if (structure === "columns") {
          // Whole embedding dimensions: a column is zero in every row or in none.
          const [rows, cols] = t.shape as [number, number];
          for (let c = 0; c < cols; c++) {
            const column = Array.from({ length: rows }, (_, r) => t.data[r * cols + c]!);
            assert.ok(column.every((v) => v === 0) || column.every((v) => v !== 0), `column ${c}`);
          }
        }
      }
    }
  });

  test("low-rank factors reach the best rank-k error (Eckart–Young) and load as stored", async () => {
    const { original, result } = await run([{ kind: "lowrank", rank: 6 }]);
    const out = save("lowrank", result);
    assertLoadsExactly(out, result.model);
    const { tensors } = loadParameters(join(out, "weights.bin"));
    result.model.namedParameters().forEach(([name, t], k) => {
      const stored = tensors.get(name)!;
      assert.equal(stored.layout, "lowrank");
      assert.equal(stored.rank, 6);
      const [rows, cols] = t.shape as [number, number];
      const best = reconstruct(lowRank(original[k]!, rows, cols, 6));
      let error = 0;
      let bestError = 0;
      t.data.forEach((v, i) => {
        error += (v - original[k]![i]!) ** 2;
        bestError += (best[i]! - original[k]![i]!) ** 2;
      });
      assert.ok(Math.abs(error - bestError) <= 1e-4 * bestError, `${name}: ${error} vs ${bestError}`);
    });
  });

  test("a step past the budget is undone exactly; rollback goes on, stop skips the rest", async () => {
    const steps: CompressionStep[] = [{ kind: "fp16" }, { kind: "prune", sparsity: 0.9 }, { kind: "int8" }];
    const rolled = await run(steps, 0.02, "rollback");
    assert.deepEqual(
      rolled.result.steps.map((s) => s.status),
      ["start", "kept", "rolled back", "kept"],
    );
    assert.match(rolled.result.steps[2]!.note, /validation drop \d+\.\d% > budget 2\.0%/);
    assert.ok(rolled.result.steps[2]!.drop > 0.02);
    // The undone pruning leaves no trace: the model is what fp16 then int8 alone make of it.
    assert.deepEqual(values(rolled.result.model), values((await run([steps[0]!, steps[2]!])).result.model));

    const stopped = await run(steps, 0.02, "stop");
    assert.deepEqual(
      stopped.result.steps.map((s) => s.status),
      ["start", "kept", "rolled back", "skipped"],
    );
    assert.deepEqual(values(stopped.result.model), values((await run([steps[0]!])).result.model));
  });

  test("a step that would not shrink anything is skipped without evaluation", async () => {
    const { result } = await run([{ kind: "int8" }, { kind: "fp16" }, { kind: "prune", sparsity: 0.05 }]);
    assert.deepEqual(
      result.steps.map((s) => [s.status, s.note]),
      [
        ["start", ""],
        ["kept", "2 matrices as i8, 0 vectors as f16"],
        ["skipped", "nothing it would shrink"],
        ["skipped", "nothing it would shrink"],
      ],
    );
  });

  test("fine-tuning runs under the constraint: pruned weights stay zero whatever training does", async () => {
    const model = freshModel();
    const original = values(model);
    let calls = 0;
    const result = await compress({
      spec,
      model,
      steps: [{ kind: "prune", sparsity: 0.5, fineTuneEpochs: 2 }],
      budget: 1,
      evaluate: closeness(original),
      latency: () => 0,
      fineTune: async (state, epochs, constrain) => {
        for (let e = 0; e < epochs; e++) {
          // "Training" that moves every weight, pruned or not.
          for (const p of state.model.parameters()) p.data.forEach((v, i) => (p.data[i] = v + 0.01));
          constrain(state.model);
          calls++;
        }
        return state.model;
      },
    });
    assert.equal(calls, 2);
    assert.match(result.steps[1]!.note, /fine-tuned 2 epochs/);
    for (const [name, t] of result.model.namedParameters()) {
      const zeros = t.data.filter((v) => v === 0).length;
      assert.equal(zeros, Math.round(0.5 * t.data.length), name);
    }
  });
});
