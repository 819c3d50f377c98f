import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { conversionIndex, conversionLabels, isConversion } from "../../src/data/labels.js";
import { UniformSampler } from "../../src/data/sampling.js";
import { makeInteractions } from "../../src/data/shaping.js";
import { generateEcommerce, structurelessSynthetic } from "../../src/data/synthetic.js";
import { EVENT_TYPES } from "../../src/data/types.js";
import * as ops from "../../src/engine/ops/index.js";
import { Ids } from "../../src/engine/ops/embedding.js";
import { endStep } from "../../src/engine/tensor.js";
import { distillationLoss } from "../../src/distill/losses.js";
import { hardLoss, hardTaskLosses } from "../../src/train/losses.js";
import { prepareData } from "../../src/run/data.js";
import { evaluateModel } from "../../src/run/evaluation.js";
import { buildTrainingData } from "../../src/train/training-data.js";
import { train } from "../../src/train/trainer.js";
import { auc } from "../../src/eval/metrics.js";
import type { DeepRanker } from "../../src/models/deep-ranker.js";
import { createModel, type ModelSpec } from "../../src/models/index.js";
import { scoreTasks, type Recommender } from "../../src/models/recommender.js";

const close = (actual: number, expected: number, tol = 1e-5) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

const code = (type: (typeof EVENT_TYPES)[number]) => EVENT_TYPES.indexOf(type);

describe("conversion labels", () => {
  test("carts, purchases and ratings ≥ 4 convert; views, clicks and lower ratings do not", () => {
    assert.deepEqual(
      (["view", "click", "cart", "purchase"] as const).map((t) => isConversion(code(t), 1)),
      [false, false, true, true],
    );
    assert.deepEqual(
      [3.5, 4, 5].map((rating) => isConversion(code("rating"), rating)),
      [false, true, true],
    );
  });

  test("a pair is labelled by its deepest event, whichever row is asked about; no conversion at all is null", () => {
    // User 0 views item 1 then carts it; views item 2 only. User 1 rates item 1 with 5, item 2 with 3.
    const log = makeInteractions({
      users: Int32Array.of(0, 0, 0, 1, 1),
      items: Int32Array.of(1, 2, 1, 1, 2),
      values: Float32Array.of(1, 1, 1, 5, 3),
      timestamps: Float64Array.of(1, 2, 3, 4, 5),
      eventTypes: Uint8Array.of(code("view"), code("view"), code("cart"), code("rating"), code("rating")),
    });
    const converted = conversionIndex(log, 3)!;
    assert.deepEqual(
      Array.from(conversionLabels(Int32Array.of(0, 0, 1, 1, 2), Int32Array.of(1, 2, 1, 2, 1), converted)),
      [1, 0, 1, 0, 0],
    );
    const views = makeInteractions({ ...log, eventTypes: new Uint8Array(5).fill(code("view")) });
    assert.equal(conversionIndex(views, 3), null);
  });
});

// A synthetic shop: conversion (cart or purchase after a view) rises with the user's affinity for the item.
// The structureless shop: conversion there follows the user's affinity alone, which the conversion head's AUC
// bound below is about (complement views convert more whatever the user, intent steps reorder the history).
const dataset = generateEcommerce({ users: 600, items: 200, events: 24_000, seed: 5, ...structurelessSynthetic });
const prepared = prepareData(dataset);
const converted = conversionIndex(dataset.interactions, prepared.context.numUsers)!;
const deepSpec: ModelSpec = { kind: "deep-ranker", embeddingDim: 8, deepSizes: [16], maxHistory: 5, seed: 2 };

describe("training data", () => {
  test("every sample carries its (user, positive) pair's conversion label; none without labels", () => {
    const { samples, train: rows } = prepared;
    assert.ok(samples.conversions);
    const expected = conversionLabels(samples.users, samples.positives, converted);
    assert.deepEqual(Array.from(samples.conversions), Array.from(expected));
    const share = expected.reduce((a, b) => a + b, 0) / expected.length;
    assert.ok(share > 0.02 && share < 0.5, `conversion share ${share}`);
    const bare = buildTrainingData(rows, prepared.context, prepared.histories);
    assert.equal(bare.conversions, undefined);
  });
});

describe("the task-label loss", () => {
  // Four training samples (their history ends are CSR positions) with arbitrary negatives.
  const picked = Int32Array.of(0, 40, 400, 4000);
  const pick = (values: Int32Array) => Int32Array.from(picked, (k) => values[k]!);
  const batch = {
    users: pick(prepared.samples.users),
    positives: pick(prepared.samples.positives),
    negatives: Int32Array.of(40, 41, 42, 43),
    historyEnd: pick(prepared.samples.historyEnd),
  };
  const taskLabels = Float32Array.of(1, 0, 0, 1);

  test("the main head's loss is hardLoss's; every extra head gets BCE of positives vs labels, negatives vs 0", () => {
    const model = createModel(deepSpec, prepared.context);
    const { hard, tasks } = hardTaskLosses(model, batch, taskLabels);
    close(hard.item(), hardLoss(model, batch).item());
    const pairs = (items: Int32Array) => ({
      users: new Ids(batch.users),
      items: new Ids(items),
      historyEnd: batch.historyEnd,
    });
    const pos = model.forwardTasks(pairs(batch.positives))["conversion"]!;
    const neg = model.forwardTasks(pairs(batch.negatives))["conversion"]!;
    const expected =
      (ops.bceWithLogits(pos, taskLabels).item() + ops.bceWithLogits(neg, new Float32Array(4)).item()) / 2;
    close(tasks.item(), expected);
    tasks.backward();
    const { towers } = model as DeepRanker;
    assert.ok(towers.at(1).weight.grad, "the conversion tower learns");
    assert.equal(towers.at(0).weight.grad, null, "the main tower is left to the main loss");
    endStep();
  });

  test("distillationLoss adds it only for multi-task students given labels, with weight hardTasks", () => {
    const deep = createModel(deepSpec, prepared.context);
    const parts = distillationLoss(deep, { ...batch, taskLabels }, null, { hard: 1 }).parts;
    assert.deepEqual(Object.keys(parts).sort(), ["hard", "hardTasks", "total"]);
    close(parts.total!, parts.hard! + parts.hardTasks!);
    const half = distillationLoss(deep, { ...batch, taskLabels }, null, { hard: 1, hardTasks: 0.5 }).parts;
    close(half.total!, half.hard! + 0.5 * half.hardTasks!);
    const off = distillationLoss(deep, { ...batch, taskLabels }, null, { hard: 1, hardTasks: 0 }).parts;
    assert.deepEqual(Object.keys(off).sort(), ["hard", "total"]);
    const mf = createModel({ kind: "bpr-mf", dim: 4, seed: 1 }, prepared.context);
    const single = distillationLoss(mf, { ...batch, taskLabels }, null, { hard: 1 }).parts;
    assert.deepEqual(single, distillationLoss(mf, batch, null, { hard: 1 }).parts);
    endStep();
  });
});

describe("multi-task training", () => {
  const settings = {
    context: prepared.context,
    epochs: 5,
    batchSize: 256,
    lr: 0.005,
    threads: 1,
    seed: 1,
    sampler: new UniformSampler(prepared.trainSeen, prepared.context.numItems, { seed: 1 }),
    progress: false,
  };
  /** The conversion head's AUC among held-out engaged pairs (validation and test rows): converted or not. */
  function heldOutAuc(model: Recommender): number {
    model.eval();
    const scores: number[] = [];
    const labels: number[] = [];
    for (const rows of [prepared.valid, prepared.test]) {
      const converts = conversionLabels(rows.users, rows.items, converted);
      for (let r = 0; r < rows.length; r++) {
        scores.push(scoreTasks(model, { user: rows.users[r]! }, Int32Array.of(rows.items[r]!))["conversion"]![0]!);
        labels.push(converts[r]!);
      }
    }
    return auc(scores, labels);
  }
  const evaluation = { negatives: 50, validationNegatives: 20, ks: [10], fullRanking: false };

  test("the conversion head learns conversion from the task labels, and stays near chance without them", async () => {
    const trained = await train({ ...settings, model: deepSpec, data: prepared.samples, weights: { hard: 1 } });
    const untrained = await train({
      ...settings,
      model: deepSpec,
      data: prepared.samples,
      weights: { hard: 1, hardTasks: 0 },
    });
    const withTerm = heldOutAuc(trained.model);
    const without = heldOutAuc(untrained.model);
    assert.ok(withTerm > 0.7, `conversion AUC with the task term: ${withTerm}`);
    assert.ok(Math.abs(without - 0.5) < 0.15, `conversion AUC without it: ${without}`);

    const metrics = evaluateModel(trained.model, prepared.testSet, evaluation, 0);
    for (const key of ["AUC", "GAUC", "LogLoss", "Accuracy", "Precision", "Recall", "F1"]) {
      assert.ok(Number.isFinite(metrics[`conversion:${key}`]), key);
    }
    const baseline = evaluateModel(untrained.model, prepared.testSet, evaluation, 0);
    assert.ok(metrics["conversion:AUC"]! > baseline["conversion:AUC"]! + 0.1);
    assert.ok(metrics["conversion:LogLoss"]! < baseline["conversion:LogLoss"]!);
    assert.ok(metrics["main:AUC"]! > 0.6 && metrics["main:GAUC"]! > 0.6);
    assert.equal(metrics["main:LogLoss"], undefined, "main-head logits are ranking scores, not probabilities");
  });

  test("single-head students are unaffected by task labels", async () => {
    const spec: ModelSpec = { kind: "bpr-mf", dim: 8, seed: 4 };
    const withoutLabels = { ...prepared.samples, conversions: undefined };
    const a = await train({ ...settings, epochs: 1, model: spec, data: prepared.samples });
    const b = await train({ ...settings, epochs: 1, model: spec, data: withoutLabels });
    const values = (r: typeof a) => r.model.parameters().map((p) => Array.from(p.data));
    assert.deepEqual(values(a), values(b));
    const metrics = evaluateModel(a.model, prepared.testSet, evaluation, 0);
    assert.deepEqual(
      Object.keys(metrics).filter((k) => /^[^:]+:[^:]+$/.test(k)),
      ["main:AUC", "main:GAUC"],
    );
  });
});
