import { before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserHistories } from "../../src/data/history.js";
import { DataRng } from "../../src/data/rng.js";
import {
  buildUserItemIndex,
  itemPopularity,
  PopularitySampler,
  sampleCandidates,
  UniformSampler,
} from "../../src/data/sampling.js";
import { makeInteractions } from "../../src/data/shaping.js";
import { leaveOneOut } from "../../src/data/splits.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { TrainingPool } from "../../src/engine/parallel.js";
import { historyBag, historyInputs, type ModelContext } from "../../src/models/context.js";
import type { Module } from "../../src/engine/nn.js";
import { Adam } from "../../src/engine/optim.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import { createModel, type ModelSpec } from "../../src/models/index.js";
import type { Recommender } from "../../src/models/recommender.js";
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
import { distillationLoss, teacherRepresentation, type DistillWeights } from "../../src/distill/losses.js";
import { buildTrainingData, redrawNegatives, type TrainingData } from "../../src/train/training-data.js";
import { train, type TrainOptions } from "../../src/train/trainer.js";
import type { SoftLabels } from "../../src/distill/soft-labels.js";

const NUM_USERS = 300;
const NUM_ITEMS = 150;

/** The small synthetic shop, split leave-one-out, with everything training needs. */
function fixture() {
  const dataset = generateEcommerce({ users: NUM_USERS, items: NUM_ITEMS, events: 8000, seed: 1 });
  const split = leaveOneOut(dataset.interactions);
  const histories = buildUserHistories(split.train, NUM_USERS);
  const context: ModelContext = { numUsers: NUM_USERS, numItems: NUM_ITEMS, histories: historyInputs(histories) };
  const seen = buildUserItemIndex(split.train, NUM_USERS);
  const data = buildTrainingData(split.train, context, histories);
  return { split, histories, context, seen, data };
}

const shop = fixture();

/**
 * A tiny sampled evaluation: each validation item ranked among 50 unseen items fixed up front;
 * NDCG@10 = 1/log2(rank + 2) when the rank is below 10.
 */
function makeValidator(seed = 7): (model: Recommender) => Record<string, number> {
  const { valid } = shop.split;
  const sampler = new UniformSampler(shop.seen, NUM_ITEMS, { seed });
  const cases = Array.from({ length: valid.length }, (_, r) => {
    const user = valid.users[r]!;
    const item = valid.items[r]!;
    const negatives = sampleCandidates(user, [item], 50, sampler);
    return { user, items: Int32Array.from([item, ...negatives]) };
  });
  return (model) => {
    const scorer = model.scorer();
    let ndcg = 0;
    let hits = 0;
    for (const c of cases) {
      const scores = scorer.scoreCandidates({ user: c.user }, c.items);
      let rank = 0;
      for (let k = 1; k < scores.length; k++) if (scores[k]! >= scores[0]!) rank++;
      if (rank < 10) {
        ndcg += 1 / Math.log2(rank + 2);
        hits++;
      }
    }
    return { "NDCG@10": ndcg / cases.length, "HR@10": hits / cases.length };
  };
}

const spec: ModelSpec = { kind: "bpr-mf", dim: 16, seed: 3 };

function options(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: spec,
    context: shop.context,
    data: shop.data,
    epochs: 3,
    batchSize: 256,
    lr: 0.01,
    threads: 1,
    seed: 11,
    sampler: new UniformSampler(shop.seen, NUM_ITEMS, { seed: 5 }),
    progress: false,
    ...overrides,
  };
}

const params = (model: Module) => model.parameters().map((p) => p.data.slice());

describe("training data", () => {
  test("one sample per training row, laid out like the histories CSR", () => {
    const { data, histories, split } = shop;
    assert.equal(data.users.length, split.train.length);
    for (let u = 0; u < NUM_USERS; u++) {
      for (let k = histories.offsets[u]!; k < histories.offsets[u + 1]!; k++) {
        assert.equal(data.users[k], u);
        assert.equal(data.positives[k], histories.items[k]);
      }
    }
    for (const name of ["users", "positives", "historyEnd", "negatives"] as const) {
      assert.ok(data[name].buffer instanceof SharedArrayBuffer, `${name} is shared`);
    }
  });

  test("historyEnd keeps the future invisible: a sample sees only its user's earlier items", () => {
    const { data, histories, context } = shop;
    let checkedNonEmpty = 0;
    for (let i = 0; i < data.users.length; i++) {
      const u = data.users[i]!;
      assert.ok(data.historyEnd[i]! <= i, `sample ${i}: historyEnd ${data.historyEnd[i]} is past its own position`);
      assert.ok(data.historyEnd[i]! >= histories.offsets[u]!, `sample ${i}: historyEnd before its user's history`);
      // Every visible item is strictly earlier in the user's chronology (or tied in time and earlier in the log).
      for (let k = histories.offsets[u]!; k < data.historyEnd[i]!; k++) {
        assert.ok(histories.timestamps[k]! <= histories.timestamps[i]!);
      }
    }
    // The model-facing bags built from historyEnd never include the positive's own row or anything after it.
    const batch = Int32Array.from({ length: 200 }, (_, k) => k * 7);
    const users = Int32Array.from(batch, (s) => data.users[s]!);
    const ends = Int32Array.from(batch, (s) => data.historyEnd[s]!);
    const bag = historyBag(context.histories!, users, 1000, ends);
    batch.forEach((s, k) => {
      const end = k + 1 < batch.length ? bag.offsets[k + 1]! : bag.ids.length;
      const visible = bag.ids.subarray(bag.offsets[k]!, end);
      const start = histories.offsets[data.users[s]!]!;
      assert.deepEqual(Array.from(visible), Array.from(histories.items.subarray(start, s)));
      if (visible.length > 0) checkedNonEmpty++;
    });
    assert.ok(checkedNonEmpty > 50, "the check covered samples with a non-empty past");
  });

  test("rejects histories that do not match the training rows", () => {
    const other = buildUserHistories(shop.split.valid, NUM_USERS);
    assert.throws(() => buildTrainingData(shop.split.train, shop.context, other), /histories hold/);
  });

  test("redrawNegatives never returns a seen item, with or without the run's generator, and is seeded", () => {
    const { data, seen } = shop;
    const sampler = new UniformSampler(seen, NUM_ITEMS, { seed: 1 });
    for (const rng of [new DataRng(3), undefined]) {
      redrawNegatives(data, sampler, rng);
      for (let k = 0; k < data.users.length; k++) {
        const item = data.negatives[k]!;
        assert.ok(item >= 0 && item < NUM_ITEMS);
        assert.ok(!seen.has(data.users[k]!, item), `sample ${k}: negative ${item} was seen by its user`);
      }
    }
    redrawNegatives(data, sampler, new DataRng(9));
    const first = data.negatives.slice();
    redrawNegatives(data, sampler, new DataRng(9));
    assert.deepEqual(data.negatives, first);
    redrawNegatives(data, sampler, new DataRng(10));
    assert.notDeepEqual(data.negatives, first);
  });

  test("redrawNegatives finds the few unseen items of a user who has seen almost everything", () => {
    // User 0 saw items 0..48 of 50; user 1 saw item 0 only.
    const items = [...Array.from({ length: 49 }, (_, i) => i), 0];
    const users = [...new Array<number>(49).fill(0), 1];
    const log = makeInteractions({
      users: Int32Array.from(users),
      items: Int32Array.from(items),
      values: new Float32Array(users.length).fill(1),
      timestamps: Float64Array.from(users, (_, r) => r),
      eventTypes: new Uint8Array(users.length),
    });
    const histories = buildUserHistories(log, 2);
    const context: ModelContext = { numUsers: 2, numItems: 50 };
    const data: TrainingData = buildTrainingData(log, context, histories);
    const sampler = new UniformSampler(buildUserItemIndex(log, 2), 50, { seed: 0 });
    redrawNegatives(data, sampler, new DataRng(1));
    for (let k = 0; k < data.users.length; k++) {
      if (data.users[k] === 0) assert.equal(data.negatives[k], 49);
      else assert.notEqual(data.negatives[k], 0);
    }
  });
});

describe("distillation program", () => {
  test("with pure hard-label weights it trains exactly like a plain BPR loop", async () => {
    const { data, context } = shop;
    redrawNegatives(data, new UniformSampler(shop.seen, NUM_ITEMS, { seed: 1 }), new DataRng(2));
    const order = Int32Array.from({ length: data.users.length }, (_, i) => i);
    new DataRng(4).shuffle(order);
    const distill = await TrainingPool.start<DistillConfig, DistillTrainer>({
      programUrl: distillProgramUrl,
      config: { model: spec, context, lr: 0.01, optimizer: "adam", weights: { hard: 1 } },
      data: { users: data.users, positives: data.positives, negatives: data.negatives, historyEnd: data.historyEnd },
      threads: 1,
    });
    try {
      const model = createModel(spec, context);
      const optimizer = new Adam(model.parameters(), { lr: 0.01 });
      let total = 0;
      for (let start = 0; start < order.length; start += 128) {
        const batch = order.subarray(start, start + 128);
        const pick = (values: Int32Array) => Int32Array.from(batch, (s) => values[s]!);
        const loss = model.loss({
          users: pick(data.users),
          positives: pick(data.positives),
          negatives: pick(data.negatives),
          historyEnd: pick(data.historyEnd),
        });
        loss.backward();
        optimizer.step();
        total += loss.item() * batch.length;
      }
      const result = await distill.epoch(order, 128);
      assert.equal(result.loss, total);
      assert.deepEqual(params(distill.local.model), params(model));
    } finally {
      await distill.close();
    }
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

describe("train", () => {
  test("BPR-MF on the synthetic shop lifts validation NDCG@10 well above its initial value", async () => {
    const validate = makeValidator();
    const { createModel } = await import("../../src/models/index.js");
    const initial = validate(createModel(spec, shop.context))["NDCG@10"]!;
    const result = await train(options({ epochs: 8, validate, patience: 8 }));
    const best = result.bestMetrics["NDCG@10"]!;
    assert.equal(result.history.length, 8);
    assert.ok(best > initial + 0.1 && best > initial * 1.5, `NDCG@10 ${initial.toFixed(3)} → ${best.toFixed(3)}`);
    assert.ok(result.history.at(-1)!.loss < result.history[0]!.loss);
    // The returned model holds the best epoch's parameters.
    assert.equal(validate(result.model)["NDCG@10"], best);
    for (const record of result.history) {
      assert.ok(record.seconds >= 0 && record.samplesPerSecond >= 0);
      assert.ok("NDCG@10" in record.metrics && "HR@10" in record.metrics);
    }
  });

  test("one thread is reproducible: the same seed gives identical losses and parameters", async () => {
    const a = await train(options());
    const b = await train(options());
    assert.deepEqual(
      a.history.map((r) => r.loss),
      b.history.map((r) => r.loss),
    );
    assert.deepEqual(params(a.model), params(b.model));
    const c = await train(options({ seed: 12 }));
    assert.notDeepEqual(params(c.model), params(a.model));
  });

  test("restores the best epoch's parameters and stops early after `patience` epochs without improvement", async () => {
    const metric = [0.1, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05, 0.01];
    const after: Float32Array[][] = [];
    const seenEpochs: number[] = [];
    const result = await train(
      options({
        epochs: 8,
        patience: 2,
        validate: (model) => {
          after.push(params(model));
          return { "NDCG@10": metric[after.length - 1]! };
        },
        onEpoch: (record) => seenEpochs.push(record.epoch),
      }),
    );
    assert.equal(result.bestEpoch, 2);
    assert.deepEqual(result.bestMetrics, { "NDCG@10": 0.5 });
    assert.equal(result.stoppedEarly, true);
    assert.equal(result.history.length, 4);
    assert.deepEqual(seenEpochs, [1, 2, 3, 4]);
    assert.notDeepEqual(after[3], after[1], "training kept changing the parameters after epoch 2");
    assert.deepEqual(params(result.model), after[1]);
  });

  test("mode 'min' keeps the lowest value; without validation the last epoch is kept", async () => {
    const values = [3, 1, 2];
    let calls = 0;
    const low = await train(options({ monitor: "loss", mode: "min", validate: () => ({ loss: values[calls++]! }) }));
    assert.equal(low.bestEpoch, 2);
    assert.equal(low.stoppedEarly, false);
    const plain = await train(options({ epochs: 2 }));
    assert.equal(plain.bestEpoch, 2);
    assert.deepEqual(plain.bestMetrics, {});
  });

  test("a validation without the monitored metric is an error naming what it returned", async () => {
    await assert.rejects(train(options({ validate: () => ({ "HR@10": 0.3 }) })), /no "NDCG@10".*HR@10/);
  });

  test("two threads train one shared model (Hogwild) and the loss falls", async () => {
    const result = await train(options({ threads: 2, epochs: 4, lr: 0.05 }));
    const losses = result.history.map((r) => r.loss);
    assert.ok(losses[3]! < losses[0]! * 0.9, `losses ${losses.map((l) => l.toFixed(3))}`);
  });

  test("a diverging run stops with an error instead of saving a broken model", async () => {
    await assert.rejects(
      train(options({ optimizer: "sgd", lr: 1e30, epochs: 3, validate: makeValidator() })),
      /loss diverged .* in epoch \d; lower the learning rate/,
    );
  });

  test("soft-label weights without soft labels are refused", async () => {
    await assert.rejects(train(options({ weights: { hard: 1, listwise: 1 } })), /softLabels/);
  });

  test('hardLoss "bce" trains through the general path: the loss falls and the model differs from BPR\'s', async () => {
    const bce = await train(options({ weights: { hard: 1, hardLoss: "bce" }, lr: 0.05 }));
    const losses = bce.history.map((r) => r.loss);
    assert.ok(losses[2]! < losses[0]! * 0.9, `losses ${losses.map((l) => l.toFixed(3))}`);
    const bpr = await train(options({ weights: { hard: 1 }, lr: 0.05 }));
    assert.notDeepEqual(params(bce.model), params(bpr.model));
  });
});

describe("learning-rate schedules in train()", () => {
  /** A seeded sampler with its own generator, so that a loop by hand can draw the same negatives as train(). */
  const popularity = itemPopularity(shop.split.train, NUM_ITEMS);
  const sampler = () => new PopularitySampler(shop.seen, popularity, { seed: 5 });

  test("one thread: a step schedule sets each epoch's lr, as a loop applying those lrs by hand", async () => {
    const lr = 0.04;
    const result = await train(
      options({ epochs: 5, lr, schedule: { kind: "step", stepSize: 2, gamma: 0.5 }, sampler: sampler() }),
    );
    const lrs = [1, 1, 0.5, 0.5, 0.25].map((factor) => lr * factor);
    assert.deepEqual(
      result.history.map((r) => r.lr),
      lrs,
    );

    // train()'s loop by hand: fresh negatives, then a fresh order from the seed, every epoch.
    const { data, context } = shop;
    const pool = await TrainingPool.start<DistillConfig, DistillTrainer>({
      programUrl: distillProgramUrl,
      config: { model: spec, context, lr, optimizer: "adam", weights: { hard: 1 } },
      data: {
        users: data.users,
        positives: data.positives,
        negatives: data.negatives,
        historyEnd: data.historyEnd,
        ...(data.conversions ? { conversions: data.conversions } : {}),
      },
      threads: 1,
    });
    try {
      const negatives = sampler();
      const rng = new DataRng(options().seed);
      const order = Int32Array.from({ length: data.users.length }, (_, i) => i);
      for (const epochLr of lrs) {
        redrawNegatives(data, negatives);
        rng.shuffle(order);
        pool.local.optimizer.lr = epochLr;
        await pool.epoch(order, options().batchSize!);
      }
      assert.deepEqual(params(result.model), params(pool.local.model));
    } finally {
      await pool.close();
    }
  });

  test("two threads: every worker trains at the epoch's lr (0 freezes the shared model)", async () => {
    // Epoch 1 warms up at lr 0, epoch 2 runs at the base lr, then the lr decays below float32's smallest
    // value, to an update of exactly 0. A worker left at the base lr would move the shared parameters.
    const after: Float32Array[][] = [];
    const result = await train(
      options({
        threads: 2,
        epochs: 4,
        lr: 0.05,
        schedule: { kind: "warmup", warmupSteps: 1, then: { kind: "step", stepSize: 1, gamma: 1e-50 } },
        validate: (model) => {
          after.push(params(model));
          return { "NDCG@10": after.length };
        },
      }),
    );
    assert.deepEqual(
      result.history.map((r) => r.lr),
      [0, 0.05, 0.05 * 1e-50, 0.05 * 1e-100],
    );
    assert.deepEqual(after[0], params(createModel(spec, shop.context)), "epoch 1 (lr 0) left the model as built");
    assert.notDeepEqual(after[1], after[0], "epoch 2 trained");
    assert.deepEqual(after[2], after[1], "epoch 3 (lr ≈ 0) left the model as it was");
    assert.deepEqual(after[3], after[1], "epoch 4 (lr ≈ 0) left the model as it was");
  });

  test("an invalid schedule is refused before training", async () => {
    await assert.rejects(train(options({ schedule: { kind: "step", stepSize: 0 } })), /stepSize must be a positive/);
  });
});

describe("hint distillation", () => {
  const teacherSpec: ModelSpec = { kind: "mlp-ranker", dim: 8, hidden: [16], initStd: 0.5, seed: 21 };
  const studentSpec: ModelSpec = { kind: "two-tower", dim: 4, seed: 3 };
  // A trained teacher, so that its parameters differ from what its spec alone builds.
  let teacher: Recommender;
  let teacherValues: Float32Array[];
  before(async () => {
    teacher = (await train(options({ model: teacherSpec, epochs: 2 }))).model.eval();
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

  test("train() shares the teacher with the pool: a pure hint objective falls epoch after epoch", async () => {
    const result = await train(options({ model: studentSpec, weights: { hard: 0, hint: 1 }, teacher, epochs: 3 }));
    const losses = result.history.map((r) => r.loss);
    assert.ok(losses[2]! < losses[1]! && losses[1]! < losses[0]!, `losses ${losses.map((l) => l.toFixed(4))}`);
    assert.deepEqual(params(teacher), teacherValues);
  });

  test("a hint without a teacher, or with a model that has no representation, is refused", async () => {
    const weights = { hard: 1, hint: 0.5 };
    await assert.rejects(train(options({ model: studentSpec, weights })), /hint term but no teacher was given/);
    const mf = createModel(spec, shop.context);
    await assert.rejects(
      train(options({ model: studentSpec, weights, teacher: mf })),
      /the teacher \(bpr-mf\) has no representation for hint distillation/,
    );
    await assert.rejects(
      train(options({ model: spec, weights, teacher })),
      /the student \(bpr-mf\) has no representation for hint distillation/,
    );
  });
});
