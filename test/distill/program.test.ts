import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { DataRng } from "../../src/data/rng.js";
import { UniformSampler } from "../../src/data/sampling.js";
import { TrainingPool } from "../../src/engine/parallel.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import { createModel, type ModelSpec } from "../../src/models/index.js";
import type { Recommender } from "../../src/models/recommender.js";
import { distill, type DistillOptions } from "../../src/distill/distill.js";
import { teacherRepresentation } from "../../src/distill/hint.js";
import { distillationLoss, type DistillWeights } from "../../src/distill/losses.js";
import {
  distillProgramUrl,
  isPureHard,
  shareParameters,
  shareSoftLabels,
  softLabelsFrom,
  TEACHER_WEIGHTS,
  type DistillConfig,
  type DistillTrainer,
} from "../../src/distill/program.js";
import type { SoftLabels } from "../../src/distill/soft-labels.js";
import { redrawNegatives } from "../../src/train/training-data.js";
import { train } from "../../src/train/trainer.js";
import { againstPlainBpr, NUM_ITEMS, options as trainOptions, params, shop, spec } from "../train/fixture.js";

/** The shared training options, with distillation's. */
const options = (overrides: Partial<DistillOptions> = {}): DistillOptions => ({ ...trainOptions(), ...overrides });

describe("distillation program", () => {
  test("with pure hard-label weights it trains exactly like a plain BPR loop", async () => {
    const run = await againstPlainBpr(distillProgramUrl, { weights: { hard: 1 } });
    assert.equal(run.loss, run.expectedLoss);
    assert.deepEqual(run.params, run.expected);
  });

  test("isPureHard tells plain BPR weights from distillation weights", () => {
    assert.ok(isPureHard({ hard: 1 }));
    assert.ok(isPureHard({ hard: 1, temperature: 3, pointwise: 0 }));
    assert.ok(!isPureHard({ hard: 1, listwise: 0.5 }));
    assert.ok(!isPureHard({ hard: 0.5 }));
    assert.ok(!isPureHard({ pointwise: 1 }));
    assert.ok(isPureHard({ hard: 1, hardLoss: "bpr" }));
    assert.ok(!isPureHard({ hard: 1, hardLoss: "bce" }));
    assert.ok(!isPureHard({ hard: 1, hint: 0.5 }));
  });

  test("soft labels travel to the pool as shared arrays and come back whole", () => {
    const labels: SoftLabels = {
      users: Int32Array.from([4, 1]),
      listLength: 3,
      positives: 1,
      topK: 1,
      negatives: 1,
      items: Int32Array.from([1, 2, 3, 4, 5, 6]),
      teacherScores: Float32Array.from([0.5, -1, 2, 3, 0, 1]),
      kinds: Uint8Array.from([0, 2, 1, 0, 2, 1]),
      topKItems: Int32Array.from([2, 5]),
      taskScores: { click: Float32Array.from([1, 2, 3, 4, 5, 6]) },
    };
    const { data, fields } = shareSoftLabels(labels, 6);
    for (const array of Object.values(data)) assert.ok(array.buffer instanceof SharedArrayBuffer);
    assert.deepEqual(Array.from(data.listRowOfUser!), [-1, 1, -1, -1, 0, -1]);
    // The config part must be structured-cloneable for the workers.
    const back = softLabelsFrom(data, structuredClone(fields));
    assert.deepEqual(back, { ...labels, taskScores: { click: labels.taskScores!.click } });
    assert.equal(back.listLength, 3);
  });
});

describe("distill", () => {
  test("soft-label weights without soft labels are refused", async () => {
    await assert.rejects(distill(options({ weights: { hard: 1, listwise: 1 } })), /softLabels/);
  });
});

describe("hint distillation", () => {
  const teacherSpec: ModelSpec = { kind: "mlp-ranker", dim: 8, hidden: [16], initStd: 0.5, seed: 21 };
  const studentSpec: ModelSpec = { kind: "two-tower", dim: 4, seed: 3 };
  // A trained teacher, so that its parameters differ from what its spec alone builds.
  let teacher: Recommender;
  let teacherValues: Float32Array[];
  before(async () => {
    teacher = (await train(trainOptions({ model: teacherSpec, epochs: 2 }))).model.eval();
    teacherValues = params(teacher);
    assert.notDeepEqual(teacherValues, params(createModel(teacherSpec, shop.context)));
  });
  /** The first 1000 samples: where the hint term is measured. */
  const probe = (() => {
    const take = (values: Int32Array) => values.slice(0, 1000);
    return {
      users: take(shop.data.users),
      positives: take(shop.data.positives),
      negatives: take(shop.data.negatives),
      historyEnd: take(shop.data.historyEnd),
    };
  })();

  /** mse(projection(student repr), teacher repr) on the probe, with the original teacher. */
  function hintTerm(trainer: DistillTrainer): number {
    const extras = { teacherRepresentation: teacherRepresentation(teacher), projection: trainer.projection! };
    const value = noGrad(() => distillationLoss(trainer.model, probe, null, { hard: 0, hint: 1 }, extras).parts.hint!);
    endStep();
    return value;
  }

  function startPool(threads: number, weights: DistillWeights) {
    const { data, context } = shop;
    return TrainingPool.start<DistillConfig, DistillTrainer>({
      programUrl: distillProgramUrl,
      config: { model: studentSpec, context, lr: 0.01, optimizer: "adam", weights, teacher: { model: teacherSpec } },
      data: {
        users: data.users,
        positives: data.positives,
        negatives: data.negatives,
        historyEnd: data.historyEnd,
        [TEACHER_WEIGHTS]: shareParameters(teacher),
      },
      samples: data.users.length,
      threads,
    });
  }

  /** Train `epochs` epochs; the hint term on the probe before and after. */
  async function trainPool(pool: Awaited<ReturnType<typeof startPool>>, epochs: number) {
    const order = Int32Array.from({ length: shop.data.users.length }, (_, i) => i);
    const rng = new DataRng(8);
    const before = hintTerm(pool.local);
    const losses: number[] = [];
    for (let e = 0; e < epochs; e++) {
      redrawNegatives(shop.data, new UniformSampler(shop.seen, NUM_ITEMS, { seed: 1 }), rng);
      rng.shuffle(order);
      const result = await pool.epoch(order, 256);
      losses.push(result.loss / result.samples);
    }
    return { before, after: hintTerm(pool.local), losses };
  }

  test("one thread: the hint term falls, the projection trains, the teacher stays frozen", async () => {
    const pool = await startPool(1, { hard: 1, hint: 1 });
    try {
      const local = pool.local;
      const student = params(local.model);
      const projection = params(local.projection!);
      // The pool's teacher is a copy of the given one, in the shared memory.
      assert.notEqual(local.teacher, teacher);
      assert.deepEqual(params(local.teacher!), teacherValues);
      const { before, after } = await trainPool(pool, 3);
      assert.ok(after < before * 0.6, `hint term ${before.toFixed(4)} → ${after.toFixed(4)}`);
      assert.notDeepEqual(params(local.model), student);
      assert.notDeepEqual(params(local.projection!), projection);
      assert.deepEqual(params(local.teacher!), teacherValues);
      assert.deepEqual(params(teacher), teacherValues);
      for (const p of local.teacher!.parameters()) {
        assert.ok(!local.optimizer.params.includes(p), `${p.name} is optimised`);
        assert.ok(p.grad === null && p.sparseGrad === null, `${p.name} got a gradient`);
      }
      for (const p of local.projection!.parameters()) assert.ok(local.optimizer.params.includes(p));
    } finally {
      await pool.close();
    }
  });

  test("two threads (Hogwild): it trains, the hint term falls and the shared teacher stays frozen", async () => {
    const pool = await startPool(2, { hard: 0.5, hint: 1 });
    try {
      assert.equal(pool.threads, 2);
      const { before, after, losses } = await trainPool(pool, 2);
      for (const loss of losses) assert.ok(Number.isFinite(loss));
      assert.ok(after < before, `hint term ${before.toFixed(4)} → ${after.toFixed(4)}`);
      assert.deepEqual(params(pool.local.teacher!), teacherValues);
    } finally {
      await pool.close();
    }
  });

  test("distill() shares the teacher with the pool: a pure hint objective falls epoch after epoch", async () => {
    const result = await distill(options({ model: studentSpec, weights: { hard: 0, hint: 1 }, teacher, epochs: 3 }));
    const losses = result.history.map((r) => r.loss);
    assert.ok(losses[2]! < losses[1]! && losses[1]! < losses[0]!, `losses ${losses.map((l) => l.toFixed(4))}`);
    assert.deepEqual(params(teacher), teacherValues);
  });

  test("a hint without a teacher, or with a model that has no representation, is refused", async () => {
    const weights = { hard: 1, hint: 0.5 };
    await assert.rejects(distill(options({ model: studentSpec, weights })), /hint term but no teacher was given/);
    const mf = createModel(spec, shop.context);
    await assert.rejects(
      distill(options({ model: studentSpec, weights, teacher: mf })),
      /the teacher \(bpr-mf\) has no representation for hint distillation/,
    );
    await assert.rejects(
      distill(options({ model: spec, weights, teacher })),
      /the student \(bpr-mf\) has no representation for hint distillation/,
    );
  });
});
