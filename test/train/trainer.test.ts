import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserHistories } from "../../src/data/history.js";
import { DataRng } from "../../src/data/rng.js";
import { buildUserItemIndex, itemPopularity, PopularitySampler, UniformSampler } from "../../src/data/sampling.js";
import { makeInteractions } from "../../src/data/shaping.js";
import { TrainingPool } from "../../src/engine/parallel.js";
import { endStep, type Tensor } from "../../src/engine/tensor.js";
import { gradCheck } from "../helpers/gradcheck.js";
import { historyBag, type ModelContext } from "../../src/models/context.js";
import { createModel, type BPRMF } from "../../src/models/index.js";
import { trainProgramUrl, type HardConfig, type Trainer } from "../../src/train/program.js";
import { buildTrainingData, redrawNegatives, type TrainingData } from "../../src/train/training-data.js";
import { STALLED_EPOCHS, train, TrainingFailure } from "../../src/train/trainer.js";
import { againstPlainBpr, makeValidator, NUM_ITEMS, NUM_USERS, options, params, shop, spec } from "./fixture.js";

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

describe("the hard-label program", () => {
  test("with the default weights it trains exactly like a plain BPR loop", async () => {
    const run = await againstPlainBpr(trainProgramUrl, { weights: { hard: 1 } });
    assert.equal(run.loss, run.expectedLoss);
    assert.deepEqual(run.params, run.expected);
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
    const pool = await TrainingPool.start<HardConfig, Trainer>({
      programUrl: trainProgramUrl,
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

describe("regularisation", () => {
  const batch = {
    users: Int32Array.from([0, 3, 3, 7]),
    positives: Int32Array.from([1, 2, 5, 1]),
    negatives: Int32Array.from([4, 6, 8, 9]),
  };

  test("batchL2 is the batch's squared user and item rows over the batch size, its gradient as finite differences", async () => {
    const { batchL2 } = await import("../../src/train/losses.js");
    const model = createModel({ kind: "bpr-mf", dim: 4, seed: 2, initStd: 0.5 }, shop.context) as BPRMF;
    const [users, items] = model.parameters() as [Tensor, Tensor];
    const squares = (t: Tensor, rows: Int32Array) =>
      Array.from(rows).reduce((sum, r) => sum + t.data.subarray(r * 4, r * 4 + 4).reduce((s, x) => s + x * x, 0), 0);
    const expected =
      (squares(users, batch.users) + squares(items, batch.positives) + squares(items, batch.negatives)) / 4;
    const value = batchL2(model, batch).item();
    endStep();
    assert.ok(Math.abs(value - expected) < 1e-5 * expected, `${value} vs ${expected}`);
    gradCheck(() => batchL2(model, batch), [users, items], { eps: 1e-3 });
  });

  test("l2 needs a dot-product model: NeuMF is refused, naming weightDecay instead", async () => {
    await assert.rejects(
      train(options({ model: { kind: "neumf", gmfDim: 4, mlpSizes: [8, 4], seed: 1 }, l2: 1e-3, epochs: 1 })),
      /l2 needs a dot-product model .* not neumf; use weightDecay/,
    );
  });

  test('lossReduction "sum" follows the summed loss: SGD steps as the mean loss with lr × batch size', async () => {
    const run = async (extra: Partial<HardConfig>) => {
      const { data, context } = shop;
      const pool = await TrainingPool.start<HardConfig, Trainer>({
        programUrl: trainProgramUrl,
        config: { model: spec, context, optimizer: "sgd", lr: 0.01, ...extra },
        data: { users: data.users, positives: data.positives, negatives: data.negatives, historyEnd: data.historyEnd },
        threads: 1,
      });
      try {
        const order = Int32Array.from({ length: 1280 }, (_, i) => i);
        const result = await pool.epoch(order, 128);
        return { loss: result.loss, params: params(pool.local.model) };
      } finally {
        await pool.close();
      }
    };
    const summed = await run({ lossReduction: "sum", l2: 0.01 });
    const scaled = await run({ lr: 0.01 * 128, l2: 0.01 });
    assert.deepEqual(summed.params, scaled.params);
    // The logged loss is the mean either way.
    assert.equal(summed.loss, scaled.loss);
  });

  test('weight decay reaches rows no batch touches only with tableUpdates "dense"', async () => {
    // A catalogue with one item more than the data and the sampler know: no batch ever touches its row.
    const context = { ...shop.context, numItems: NUM_ITEMS + 1 };
    const itemRow = (result: { model: { parameters(): Tensor[] } }) =>
      Array.from(result.model.parameters()[1]!.data.subarray(NUM_ITEMS * 16, (NUM_ITEMS + 1) * 16));
    const initial = itemRow({ model: createModel(spec, context) });
    const lazy = await train(options({ context, epochs: 1, weightDecay: 0.5 }));
    const dense = await train(options({ context, epochs: 1, weightDecay: 0.5, tableUpdates: "dense" }));
    assert.deepEqual(itemRow(lazy), initial, "lazy updates leave the untouched row as it was");
    const norm = (v: number[]) => Math.hypot(...v);
    assert.ok(norm(itemRow(dense)) < 0.9 * norm(initial), `${norm(itemRow(dense))} vs ${norm(initial)}`);
  });
});

describe("guards and validation cadence", () => {
  test("a run whose weight decay collapses the model stops at the random loss, naming decay and the loss reduction", async () => {
    await assert.rejects(train(options({ epochs: 8, weightDecay: 50, tableUpdates: "dense" })), (err: unknown) => {
      assert.ok(err instanceof TrainingFailure, String(err));
      assert.equal(err.reason, "random-loss");
      assert.equal(err.epoch, STALLED_EPOCHS);
      assert.match(err.message, /stayed at 0\.6931, a random model's, for 5 epochs/);
      assert.match(err.message, /weight decay too strong \(50 against the batch's mean loss/);
      return true;
    });
  });

  test("a run validating at or below a random ranker's level for several validations is stopped", async () => {
    // Every NDCG@10 is at or below 1: the guard's arithmetic, whatever the model learns.
    await assert.rejects(train(options({ epochs: 8, validate: makeValidator(), randomMonitor: 1 })), (err: unknown) => {
      assert.ok(err instanceof TrainingFailure);
      assert.equal(err.reason, "random-ranking");
      assert.match(err.message, /validation NDCG@10 has been at or below a random ranker's \(1\.0000\) for 5/);
      return true;
    });
    // A model that learns is never stopped by the real floor (NDCG@10 of a random ranker over 51 items).
    const learned = await train(options({ epochs: 6, validate: makeValidator(), randomMonitor: 0.1, patience: 6 }));
    assert.equal(learned.history.length, 6);
  });

  test("validateEvery validates every k epochs and after the last; only validated epochs can be the best", async () => {
    const validated: number[] = [];
    const validate = makeValidator();
    const result = await train(
      options({
        epochs: 5,
        validateEvery: 2,
        patience: 5,
        validate: (model) => {
          validated.push(validated.length);
          return validate(model);
        },
      }),
    );
    assert.equal(validated.length, 3);
    assert.deepEqual(
      result.history.map((r) => "NDCG@10" in r.metrics),
      [false, true, false, true, true],
    );
    assert.ok([2, 4, 5].includes(result.bestEpoch));
    for (const r of result.history) assert.equal(r.validationSeconds > 0, "NDCG@10" in r.metrics);
    await assert.rejects(train(options({ validateEvery: 0 })), /validateEvery must be a positive integer/);
  });
});
