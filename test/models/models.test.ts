import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ids } from "../../src/engine/ops/embedding.js";
import * as ops from "../../src/engine/ops/index.js";
import { Tensor, endStep, noGrad } from "../../src/engine/tensor.js";
import { createModel, type ModelSpec } from "../../src/models/index.js";
import { gradCheck } from "../helpers/gradcheck.js";

const context = { numUsers: 7, numItems: 9 };
const specs: ModelSpec[] = [
  { kind: "bpr-mf", dim: 6, seed: 1, initStd: 0.5 },
  { kind: "neumf", gmfDim: 4, mlpSizes: [6, 5], seed: 2, initStd: 0.5 },
];

describe("model zoo", () => {
  for (const spec of specs) {
    test(`${spec.kind}: BPR loss gradient matches finite differences for every parameter`, () => {
      const model = createModel(spec, context);
      const batch = {
        users: new Int32Array([0, 3, 3, 6]),
        positives: new Int32Array([1, 2, 8, 0]),
        negatives: new Int32Array([4, 4, 5, 2]),
      };
      gradCheck(() => model.loss(batch), model.parameters());
    });

    test(`${spec.kind}: the scorer's scoreAll agrees with scoreCandidates and with forward`, () => {
      const model = createModel(spec, context);
      const scorer = model.scorer();
      const all = scorer.scoreAll({ user: 3 });
      assert.equal(all.length, 9);
      const some = scorer.scoreCandidates({ user: 3 }, new Int32Array([8, 0, 4]));
      for (const [k, item] of [8, 0, 4].entries()) assert.ok(Math.abs(some[k]! - all[item]!) < 1e-5);
      const direct = model.forward({ users: new Ids(new Int32Array([3])), items: new Ids(new Int32Array([4])) }).item();
      endStep();
      assert.ok(Math.abs(direct - all[4]!) < 1e-5);
    });

    test(`${spec.kind}: reports parameters and FLOPs`, () => {
      const model = createModel(spec, context);
      assert.equal(
        model.parameterCount(),
        model.parameters().reduce((n, p) => n + p.size, 0),
      );
      assert.ok(model.flopsPerItem() > 0);
    });
  }

  test("bpr-mf FLOPs per item are 2·dim", () => {
    assert.equal(createModel(specs[0]!, context).flopsPerItem(), 12);
  });

  test("representationDim is the width representation() returns, and null where there is none", () => {
    const histories = {
      offsets: Int32Array.from([0, 2, 3, 3, 5, 6, 6, 8]),
      items: Int32Array.from([1, 2, 0, 4, 5, 3, 7, 8]),
    };
    const withHistory = { ...context, histories };
    const cases: [ModelSpec, number | null][] = [
      [specs[0]!, null],
      [specs[1]!, null],
      [{ kind: "two-tower", dim: 5, userLayers: [7], seed: 3 }, 10],
      [{ kind: "mlp-ranker", dim: 4, hidden: [9, 6], seed: 4 }, 6],
      [{ kind: "mlp-ranker", dim: 4, hidden: [], seed: 4 }, 12],
      [{ kind: "deep-ranker", embeddingDim: 4, deepSizes: [8, 3], seed: 5 }, 4 * 4 + 3],
      [{ kind: "deep-ranker", embeddingDim: 4, deepSizes: [8], experts: 2, expertSizes: [6, 5], seed: 6 }, 5],
    ];
    for (const [spec, dim] of cases) {
      const model = createModel(spec, withHistory);
      const pairs = { users: new Ids(Int32Array.from([0, 3, 6])), items: new Ids(Int32Array.from([1, 8, 2])) };
      assert.equal(model.representationDim, dim, spec.kind);
      const repr = noGrad(() => model.representation(pairs));
      assert.deepEqual(repr?.shape ?? null, dim === null ? null : [3, dim], spec.kind);
      endStep();
    }
  });

  test("unknown kinds are refused by name", () => {
    assert.throws(() => createModel({ kind: "nope" } as unknown as ModelSpec, context), /unknown model kind "nope"/);
  });
});

describe("scoreLists", () => {
  const histories = {
    offsets: Int32Array.from([0, 2, 3, 3, 5, 6, 6, 8]),
    items: Int32Array.from([1, 2, 0, 4, 5, 3, 7, 8]),
  };
  const withHistory = { ...context, histories };
  const cases: ModelSpec[] = [
    specs[0]!,
    { kind: "two-tower", dim: 5, maxHistory: 2, seed: 4, initStd: 0.5 },
    { kind: "two-tower", dim: 4, pooling: "attention", userLayers: [6], seed: 5, initStd: 0.5 },
    { kind: "deep-ranker", embeddingDim: 4, deepSizes: [5], seed: 6 },
  ];
  const users = Int32Array.from([3, 0, 6]);
  const items = Int32Array.from([1, 2, 8, 0, 4, 4, 5, 2, 7, 6, 3, 1]); // 3 lists of 4
  const ends = Int32Array.from([4, 1, 8]);

  for (const spec of cases) {
    test(`${spec.kind}${"pooling" in spec ? ` (${spec.pooling})` : ""}: equal to forward over every pair`, () => {
      const model = createModel(spec, withHistory);
      const lists = model.scoreLists(users, items, ends);
      assert.deepEqual(lists.shape, [3, 4]);
      const listScores = Array.from(lists.data);
      const pairUsers = Int32Array.from(items, (_, k) => users[Math.floor(k / 4)]!);
      const pairEnds = Int32Array.from(items, (_, k) => ends[Math.floor(k / 4)]!);
      const pairs = model.forward({ users: new Ids(pairUsers), items: new Ids(items), historyEnd: pairEnds });
      const pairScores = Array.from(pairs.data);
      endStep();
      for (let k = 0; k < items.length; k++) assert.ok(Math.abs(listScores[k]! - pairScores[k]!) < 1e-5, `score ${k}`);
    });

    // The deep ranker takes the default path (forward over pairs), whose gradients its own tests check.
    if (spec.kind === "deep-ranker") continue;
    test(`${spec.kind}: gradient of list scores matches finite differences`, () => {
      const model = createModel(spec, withHistory);
      const weights = Float32Array.from(items, (_, k) => Math.sin(k + 1));
      gradCheck(() => {
        const s = model.scoreLists(users, items, ends).reshape([items.length]);
        return ops.sum(ops.mul(s, Tensor.from(weights, [items.length])));
      }, model.parameters());
    });
  }

  test("lists that do not split evenly, or history ends of the wrong length, are refused", () => {
    const model = createModel(specs[0]!, context);
    assert.throws(() => model.scoreLists(users, items.subarray(0, 11)), /do not split into 3 equal lists/);
    assert.throws(() => model.scoreLists(users, items, Int32Array.from([1])), /1 history ends for 3 lists/);
    noGrad(() => endStep());
  });
});
