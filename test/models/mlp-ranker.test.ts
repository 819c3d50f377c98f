import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as ops from "../../src/engine/ops/index.js";
import { Ids } from "../../src/engine/ops/embedding.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import { createModel, unknownUser } from "../../src/models/index.js";
import { MLPRanker, type MLPRankerConfig } from "../../src/models/mlp-ranker.js";
import { gradCheck } from "../helpers/gradcheck.js";
import { forwardOne, tinyBatch as batch, tinyContext, trainBriefly } from "../helpers/models.js";

function tiny(config: MLPRankerConfig, context = tinyContext()): MLPRanker {
  return new MLPRanker({ dim: 4, hidden: [8], maxHistory: 3, initStd: 0.5, seed: 5, ...config }, context);
}

const differs = (a: ArrayLike<number>, b: ArrayLike<number>): boolean =>
  Array.from(a).some((v, i) => Math.abs(v - b[i]!) > 1e-4);

describe("MLPRanker", () => {
  const variants: [string, MLPRankerConfig][] = [
    ["mean-pooled history through the item table", {}],
    ["own history table, two hidden layers", { shareItemEmbeddings: false, hidden: [8, 5] }],
    ["no hidden layers", { hidden: [] }],
  ];
  for (const [name, config] of variants) {
    test(`${name}: BPR loss gradient matches finite differences for every parameter`, () => {
      const model = tiny(config);
      gradCheck(() => model.loss(batch), model.parameters(), { eps: 3e-3 });
    });

    test(`${name}: gradient through explicit histories (unknown user included) matches finite differences`, () => {
      const model = tiny(config);
      const pairs = () => ({
        users: new Ids(new Int32Array([unknownUser(model.context), 1, 5])),
        items: new Ids(new Int32Array([3, 0, 6])),
        history: { ids: new Int32Array([2, 2, 5, 0, 6, 1]), offsets: new Int32Array([0, 3, 3]) },
      });
      gradCheck(() => ops.mean(ops.square(model.forward(pairs()))), model.parameters(), { eps: 3e-3 });
    });
  }

  test("the default scorer agrees with forward", () => {
    const model = tiny({});
    const scorer = model.scorer();
    const all = scorer.scoreAll({ user: 3 });
    assert.equal(all.length, 7);
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(all[i]! - forwardOne(model, 3, i)) < 1e-5);
    const history = new Int32Array([6, 0]);
    const some = scorer.scoreCandidates({ user: 5, history }, new Int32Array([4, 1]));
    assert.ok(Math.abs(some[0]! - forwardOne(model, 5, 4, history)) < 1e-5);
    assert.ok(Math.abs(some[1]! - forwardOne(model, 5, 1, history)) < 1e-5);
  });

  test("an unknown user's scores follow the explicit history; only the last maxHistory items count", () => {
    const model = tiny({ hidden: [16] });
    const scorer = model.scorer();
    const cold = unknownUser(model.context);
    const empty = scorer.scoreAll({ user: cold, history: new Int32Array(0) });
    const first = scorer.scoreAll({ user: cold, history: new Int32Array([1, 2]) });
    const second = scorer.scoreAll({ user: cold, history: new Int32Array([1, 2, 6]) });
    for (const s of [empty, first, second]) assert.ok(s.every(Number.isFinite));
    assert.ok(differs(empty, first));
    assert.ok(differs(first, second));
    const long = scorer.scoreAll({ user: cold, history: new Int32Array([5, 0, 1, 2, 6]) });
    assert.ok(!differs(long, second));
  });

  test("history at or beyond historyEnd has no effect", () => {
    const context = tinyContext();
    const model = tiny({ hidden: [16] }, context);
    const all = (): number[] => [0, 1, 2, 3, 4, 5, 6].map((i) => forwardOne(model, 3, i, undefined, 7));
    const before = all();
    const items = context.histories!.items;
    items[7] = 0;
    items[8] = 0;
    assert.deepEqual(all(), before);
    items[6] = 0; // inside the window [5, 7)
    assert.ok(differs(all(), before));
  });

  test("contexts without features or histories work", () => {
    const model = tiny({}, { numUsers: 5, numItems: 7 });
    assert.equal(model.userFeatures, null);
    assert.deepEqual(model.sizes, [12, 8, 1]);
    gradCheck(() => model.loss({ ...batch, historyEnd: undefined }), model.parameters(), { eps: 3e-3 });
    const scores = model.scorer().scoreAll({ user: 5, history: new Int32Array([2]) });
    assert.equal(scores.length, 7);
    assert.ok(scores.every(Number.isFinite));
  });

  test("representation is the last hidden layer; the output layer of it is the score", () => {
    const model = tiny({ hidden: [8, 5] });
    const pairs = { users: new Ids(new Int32Array([0, 4, 5])), items: new Ids(new Int32Array([6, 1, 2])) };
    const rep = noGrad(() => model.representation(pairs)).persist();
    const scores = noGrad(() => model.forward(pairs)).persist();
    endStep();
    assert.deepEqual(rep.shape, [3, 5]);
    const out = model.mlp.layers.at(2);
    for (let r = 0; r < 3; r++) {
      let s = out.bias!.data[0]!;
      for (let j = 0; j < 5; j++) s += out.weight.data[j]! * rep.data[r * 5 + j]!;
      assert.ok(Math.abs(s - scores.data[r]!) < 1e-5);
    }
  });

  test("parameter counts match a hand count; FLOPs count the MLP", () => {
    // user 6×4, item 7×4, region 3×4, interests 4×4, age 1×4, category 3×4, tags 5×4, price 1×4
    const tables = 24 + 28 + 12 + 16 + 4 + 12 + 20 + 4;
    // 9 fields (user, item, history + 3 user + 3 item feature fields) × 4 = 36 inputs: [36 → 8 → 1]
    assert.equal(tiny({}).parameterCount(), tables + (36 * 8 + 8) + (8 + 1));
    assert.equal(tiny({ shareItemEmbeddings: false }).parameterCount(), tables + 28 + 305);
    assert.equal(tiny({ hidden: [8, 5] }).parameterCount(), tables + 296 + (8 * 5 + 5) + (5 + 1));
    assert.equal(tiny({}).flopsPerItem(), 2 * (36 * 8 + 8));
    const defaults = new MLPRanker({}, { numUsers: 3, numItems: 3 });
    assert.deepEqual(defaults.sizes, [48, 64, 32, 1]);
    assert.equal(defaults.flopsPerItem(), 2 * (48 * 64 + 64 * 32 + 32));
  });

  test("createModel builds it", () => {
    const model = createModel({ kind: "mlp-ranker", dim: 4 }, tinyContext());
    assert.ok(model instanceof MLPRanker);
    assert.equal(model.kind, "mlp-ranker");
  });

  test("a short BPR run on synthetic data lowers the loss", () => {
    const { before, after } = trainBriefly((context) =>
      createModel({ kind: "mlp-ranker", dim: 8, hidden: [32, 16], seed: 1 }, context),
    );
    assert.ok(after < before - 0.1, `loss ${before} → ${after}`);
  });
});
