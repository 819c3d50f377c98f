import { describe, test } from "node:test";
import assert from "node:assert/strict";
import * as ops from "../../src/engine/ops/index.js";
import { Ids } from "../../src/engine/ops/embedding.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import { dequantizeInt8, quantizeInt8 } from "../../src/engine/index.js";
import { createModel, unknownUser } from "../../src/models/index.js";
import { TwoTower, type TwoTowerConfig } from "../../src/models/two-tower.js";
import { VectorScorer } from "../../src/models/dot-product.js";
import { encodeFeatureRows } from "../../src/models/features.js";
import { gradCheck } from "../helpers/gradcheck.js";
import { forwardOne, tinyBatch as batch, tinyContext, trainBriefly } from "../helpers/models.js";

const variants: [string, TwoTowerConfig][] = [
  ["mean pooling, summed fields", { pooling: "mean" }],
  ["attention pooling, summed fields", { pooling: "attention" }],
  [
    "mean pooling, MLP towers, own history table",
    { pooling: "mean", userLayers: [6], itemLayers: [5], shareItemEmbeddings: false },
  ],
  [
    "attention pooling, MLP towers, no user id",
    { pooling: "attention", userLayers: [6], itemLayers: [5], useUserId: false },
  ],
  [
    "mean pooling over a QR item table, QR user table",
    { pooling: "mean", userTable: { kind: "qr", remainderRows: 2 }, itemTable: { kind: "qr", remainderRows: 3 } },
  ],
  [
    "attention pooling, hashed user table, hashed item and history tables",
    {
      pooling: "attention",
      userTable: { kind: "hashed", buckets: 4 },
      itemTable: { kind: "hashed", buckets: 5, seed: 1 },
      shareItemEmbeddings: false,
    },
  ],
];

function tiny(config: TwoTowerConfig, context = tinyContext()): TwoTower {
  return new TwoTower({ dim: 4, maxHistory: 3, initStd: 0.5, seed: 3, ...config }, context);
}

describe("TwoTower", () => {
  for (const [name, config] of variants) {
    test(`${name}: BPR loss gradient matches finite differences for every parameter`, () => {
      const model = tiny(config);
      gradCheck(() => model.loss(batch), model.parameters(), { eps: 3e-3 });
    });

    test(`${name}: gradient through an explicit history (unknown users too) matches finite differences`, () => {
      const model = tiny(config);
      const pairs = () => ({
        users: new Ids(new Int32Array([unknownUser(model.context), 1, 5])),
        items: new Ids(new Int32Array([3, 0, 6])),
        history: { ids: new Int32Array([2, 2, 5, 0, 6, 1]), offsets: new Int32Array([0, 3, 3]) },
      });
      gradCheck(() => ops.mean(ops.square(model.forward(pairs()))), model.parameters(), { eps: 3e-3 });
    });

    test(`${name}: scoreAll and scoreCandidates equal forward for every item`, () => {
      const model = tiny(config);
      const scorer = model.scorer();
      assert.ok(scorer instanceof VectorScorer);
      const all = scorer.scoreAll({ user: 3 });
      assert.equal(all.length, 7);
      for (let i = 0; i < 7; i++) assert.ok(Math.abs(all[i]! - forwardOne(model, 3, i)) < 1e-4, `item ${i}`);
      const some = scorer.scoreCandidates({ user: 3 }, new Int32Array([6, 0, 6, 2]));
      [6, 0, 6, 2].forEach((item, k) => assert.ok(Math.abs(some[k]! - all[item]!) < 1e-5));
      // An explicit history: the scorer agrees with forward given the same bag.
      const history = new Int32Array([0, 5]);
      const withHistory = scorer.scoreAll({ user: 1, history });
      for (let i = 0; i < 7; i++) assert.ok(Math.abs(withHistory[i]! - forwardOne(model, 1, i, history)) < 1e-4);
      scorer.dispose();
    });
  }

  test("the scorer's user vector and item vectors reproduce its scores", () => {
    const model = tiny({ pooling: "attention", userLayers: [6] });
    const scorer = model.scorer();
    const items = scorer.itemVectors();
    assert.equal(items.length, 7 * 4);
    const query = { user: 0, history: new Int32Array([3, 1]) };
    const u = scorer.userVector(query);
    assert.equal(u.length, 4);
    const all = scorer.scoreAll(query);
    for (let i = 0; i < 7; i++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += u[j]! * items[i * 4 + j]!;
      assert.ok(Math.abs(s - all[i]!) < 1e-5);
    }
    scorer.dispose();
  });

  for (const pooling of ["mean", "attention"] as const) {
    test(`${pooling}: an unknown user's scores follow the explicit history (real time)`, () => {
      const model = tiny({ pooling });
      const scorer = model.scorer();
      const cold = unknownUser(model.context);
      const empty = scorer.scoreAll({ user: cold, history: new Int32Array(0) });
      const first = scorer.scoreAll({ user: cold, history: new Int32Array([1, 2]) });
      const second = scorer.scoreAll({ user: cold, history: new Int32Array([1, 2, 6]) });
      for (const s of [empty, first, second]) assert.ok(s.every(Number.isFinite));
      const differs = (a: Float32Array, b: Float32Array): boolean => a.some((v, i) => Math.abs(v - b[i]!) > 1e-4);
      assert.ok(differs(empty, first), "a history changes the cold user's scores");
      assert.ok(differs(first, second), "a new recent item changes them again");
      // A known user's explicit history replaces the stored one.
      assert.ok(differs(scorer.scoreAll({ user: 0 }), scorer.scoreAll({ user: 0, history: new Int32Array([6]) })));
      // Only the last maxHistory (3) items count.
      const long = scorer.scoreAll({ user: cold, history: new Int32Array([5, 0, 1, 2, 6]) });
      const cut = scorer.scoreAll({ user: cold, history: new Int32Array([1, 2, 6]) });
      assert.ok(!differs(long, cut));
      scorer.dispose();
    });
  }

  test("history at or beyond historyEnd (or before the last maxHistory items) has no effect", () => {
    for (const pooling of ["mean", "attention"] as const) {
      const context = tinyContext();
      const model = tiny({ pooling }, context);
      // user 3 spans positions 5..8; end 8 sees positions 5, 6, 7 (maxHistory 3).
      const before = [0, 1, 2, 3, 4, 5, 6].map((i) => forwardOne(model, 3, i, undefined, 8));
      const items = context.histories!.items;
      items[8] = 0; // the future
      const afterFuture = [0, 1, 2, 3, 4, 5, 6].map((i) => forwardOne(model, 3, i, undefined, 8));
      assert.deepEqual(afterFuture, before);
      items[7] = 0; // inside the window: must matter
      const afterPast = [0, 1, 2, 3, 4, 5, 6].map((i) => forwardOne(model, 3, i, undefined, 8));
      assert.notDeepEqual(afterPast, before);
      // user 3 with end 9 sees 6, 7, 8: position 5 is too old
      const full = forwardOne(model, 3, 2, undefined, 9);
      items[5] = 6;
      assert.equal(forwardOne(model, 3, 2, undefined, 9), full);
    }
  });

  test("contexts without features or histories work (ids only; explicit histories still count)", () => {
    const context = { numUsers: 5, numItems: 7 };
    for (const pooling of ["mean", "attention"] as const) {
      const model = tiny({ pooling, userLayers: [8] }, context);
      assert.equal(model.userFeatures, null);
      gradCheck(() => model.loss({ ...batch, historyEnd: undefined }), model.parameters(), { eps: 3e-3 });
      const scorer = model.scorer();
      const all = scorer.scoreAll({ user: 2 });
      for (let i = 0; i < 7; i++) assert.ok(Math.abs(all[i]! - forwardOne(model, 2, i)) < 1e-4);
      const cold = scorer.scoreAll({ user: 5, history: new Int32Array([4]) });
      assert.ok(cold.some((v, i) => Math.abs(v - scorer.scoreAll({ user: 5 })[i]!) > 1e-4));
      scorer.dispose();
    }
  });

  test("representation is concat(user vector, item vector), whose halves' row dot is the score", () => {
    const model = tiny({ pooling: "attention", itemLayers: [5] });
    const pairs = { users: new Ids(new Int32Array([0, 4])), items: new Ids(new Int32Array([6, 1])) };
    const rep = noGrad(() => model.representation(pairs)).persist();
    const scores = noGrad(() => model.forward(pairs)).persist();
    endStep();
    assert.deepEqual(rep.shape, [2, 8]);
    for (let r = 0; r < 2; r++) {
      let s = 0;
      for (let j = 0; j < 4; j++) s += rep.data[r * 8 + j]! * rep.data[r * 8 + 4 + j]!;
      assert.ok(Math.abs(s - scores.data[r]!) < 1e-5);
    }
  });

  test("parameter counts match a hand count; FLOPs per item are 2·dim", () => {
    // user 6×4, item 7×4, region 3×4, interests 4×4, age 1×4, category 3×4, tags 5×4, price 1×4
    const base = 24 + 28 + 12 + 16 + 4 + 12 + 20 + 4;
    assert.equal(tiny({}).parameterCount(), base);
    assert.equal(tiny({ pooling: "attention" }).parameterCount(), base + 4);
    assert.equal(tiny({ shareItemEmbeddings: false }).parameterCount(), base + 28);
    assert.equal(tiny({ useUserId: false }).parameterCount(), base - 24);
    // user MLP over 5 fields (id, history, region, interests, age) × 4: [20 → 8 → 4];
    // item MLP over 4 fields (id, category, tags, price) × 4: [16 → 2 → 4]
    assert.equal(tiny({ userLayers: [8] }).parameterCount(), base + (20 * 8 + 8) + (8 * 4 + 4));
    assert.equal(tiny({ userLayers: [8], itemLayers: [2] }).parameterCount(), base + 204 + (16 * 2 + 2) + (2 * 4 + 4));
    assert.equal(tiny({}).flopsPerItem(), 8);
    assert.equal(tiny({ dim: 32 }).flopsPerItem(), 64);
    // 6 user rows as ceil(6 / 2) + 2 = 5; 7 item rows as ceil(7 / 3) + 3 = 6, for the item and the history table
    const qr = { userTable: { kind: "qr", remainderRows: 2 }, itemTable: { kind: "qr", remainderRows: 3 } } as const;
    assert.equal(tiny(qr).parameterCount(), base - 4 - 4);
    assert.equal(tiny({ ...qr, shareItemEmbeddings: false }).parameterCount(), base - 4 - 4 + 24);
    // Item vectors are precomputed whatever the table, so one more item is still one dot product.
    assert.equal(tiny(qr).flopsPerItem(), 8);
  });

  test("full id tables keep their parameter names; compositional ones are named by their parts", () => {
    const names = (config: TwoTowerConfig): string[] =>
      tiny(config, { numUsers: 5, numItems: 7 })
        .namedParameters()
        .map(([n]) => n);
    assert.deepEqual(names({}), ["user.weight", "item.weight"]);
    assert.deepEqual(names({ userTable: { kind: "qr" }, itemTable: { kind: "hashed", buckets: 3 } }), [
      "user.quotient.weight",
      "user.remainder.weight",
      "item.table.weight",
    ]);
  });

  test("a QR user table for a million users takes (ceil(n / m) + m) rows instead of n", () => {
    const numUsers = 1_000_000;
    const model = new TwoTower({ dim: 16, userTable: { kind: "qr" } }, { numUsers, numItems: 50 });
    // n = numUsers + 1 (the unknown user's row), m = ceil(√n) = 1001, ceil(n / m) = 1000
    assert.equal(model.parameterCount(), (1000 + 1001) * 16 + 50 * 16);
    assert.ok(model.parameterCount() * 100 < (numUsers + 1) * 16);
  });

  test("int8 retrieval on a trained model: scores within the quantisation bound of float32, same top 10", () => {
    const { model } = trainBriefly((context) =>
      createModel({ kind: "two-tower", dim: 8, pooling: "attention", userLayers: [16], seed: 1 }, context),
    );
    const trained = model as TwoTower;
    const twin = new TwoTower({ ...trained.config, retrieval: "int8" }, trained.context);
    twin.parameters().forEach((p, k) => p.data.set(trained.parameters()[k]!.data));
    const f32 = trained.scorer();
    const int8 = twin.scorer();
    assert.equal(f32.retrieval, "f32");
    assert.equal(int8.retrieval, "int8");
    const items = f32.itemVectors();
    const numItems = trained.numItems;
    let overlap = 0;
    const users = 50;
    for (let user = 0; user < users; user++) {
      const exact = f32.scoreAll({ user });
      const approx = int8.scoreAll({ user });
      const u = f32.userVector({ user });
      const userScale = Math.max(...u.map(Math.abs)) / 127;
      const sumU = u.reduce((a, v) => a + Math.abs(v), 0);
      for (let i = 0; i < numItems; i++) {
        const v = items.subarray(i * 8, (i + 1) * 8);
        const itemScale = Math.max(...v.map(Math.abs)) / 127;
        const sumV = v.reduce((a, x) => a + Math.abs(x), 0);
        // (v − e)·(u − d) with |e| ≤ itemScale / 2 and |d| ≤ userScale / 2 per element, plus float32 rounding.
        const bound = (itemScale / 2) * sumU + (userScale / 2) * sumV + (8 * itemScale * userScale) / 4 + 1e-5;
        assert.ok(Math.abs(approx[i]! - exact[i]!) <= bound, `user ${user}, item ${i}: ${approx[i]} vs ${exact[i]}`);
      }
      const exactTop = new Set(topK(exact, 10));
      overlap += topK(approx, 10).filter((i) => exactTop.has(i)).length;
    }
    assert.ok(overlap / (10 * users) >= 0.95, `top-10 overlap ${overlap / (10 * users)}`);
    f32.dispose();
    int8.dispose();
  });

  test("int8 retrieval: candidates score exactly as in scoreAll; item vectors are the dequantised ones", () => {
    const model = tiny({ pooling: "attention", itemLayers: [5], retrieval: "int8" });
    const scorer = model.scorer();
    const query = { user: 2, history: new Int32Array([4, 1]) };
    const all = scorer.scoreAll(query);
    const candidates = new Int32Array([6, 0, 6, 3]);
    assert.deepEqual(
      Array.from(scorer.scoreCandidates(query, candidates)),
      Array.from(candidates, (i) => all[i]!),
    );
    assert.throws(() => scorer.scoreCandidates(query, new Int32Array([7])), /item 7 is outside the catalogue of 7/);
    const exact = tiny({ pooling: "attention", itemLayers: [5] }).scorer();
    assert.deepEqual(scorer.itemVectors(), dequantizeInt8(quantizeInt8(exact.itemVectors(), 7, 4)));
    exact.dispose();
    scorer.dispose();
  });

  test("createModel builds it; bad pooling is refused", () => {
    const model = createModel({ kind: "two-tower", dim: 4 }, tinyContext());
    assert.ok(model instanceof TwoTower);
    assert.equal(model.kind, "two-tower");
    assert.throws(() => tiny({ pooling: "max" as "mean" }), /pooling must be "mean" or "attention"/);
    assert.throws(() => tiny({ retrieval: "int4" as "int8" }), /retrieval must be "f32" or "int8", got "int4"/);
    assert.throws(() => tiny({ useUserId: false, userTable: { kind: "qr" } }), /a userTable needs useUserId/);
    // Parameter paths are dotted, so a dotted feature name must not break registration.
    const context = tinyContext();
    context.itemFeatures!.categorical[0]!.name = "category.level1";
    const names = tiny({}, context)
      .namedParameters()
      .map(([n]) => n);
    assert.ok(names.includes("itemFeatures.cat_category_level1.weight"), names.join(", "));
  });

  for (const pooling of ["mean", "attention"] as const) {
    test(`${pooling}: a short BPR run on synthetic data lowers the loss`, () => {
      const { model, before, after } = trainBriefly((context) =>
        createModel({ kind: "two-tower", dim: 8, pooling, userLayers: [16], seed: 1 }, context),
      );
      assert.ok(model.kind === "two-tower");
      assert.ok(after < before - 0.1, `loss ${before} → ${after}`);
    });
  }

  test("a short BPR run with QR user and item tables lowers the loss", () => {
    const { before, after } = trainBriefly((context) =>
      createModel(
        { kind: "two-tower", dim: 8, userLayers: [16], userTable: { kind: "qr" }, itemTable: { kind: "qr" }, seed: 1 },
        context,
      ),
    );
    assert.ok(after < before - 0.1, `loss ${before} → ${after}`);
  });
});

/** Indices of the k largest scores, best first. */
function topK(scores: Float32Array, k: number): number[] {
  return Array.from(scores.keys())
    .sort((a, b) => scores[b]! - scores[a]!)
    .slice(0, k);
}

describe("cold-start items", () => {
  // tinyContext's item features: category (vocab 3), tags (vocab 5), price (numeric).
  const schema = {
    categorical: { category: ["[UNK]", "shoes", "hats"] },
    multi: { tags: ["[UNK]", "red", "blue", "sale", "new"] },
    numeric: { price: { mean: 10, std: 4 } },
  };

  test("raw features encode through the vocabularies and the training z-score, unknowns to 0", () => {
    const like = tinyContext().itemFeatures!;
    const encoded = encodeFeatureRows(schema, like, [
      { category: "hats", tags: ["blue", "gold"], price: 18 },
      { category: "boots", tags: [] },
      {},
    ]);
    assert.deepEqual(encoded.categorical[0]!.ids, new Int32Array([2, 0, 0]));
    assert.deepEqual(encoded.multi[0]!.offsets, new Int32Array([0, 2, 3, 4]));
    assert.deepEqual(encoded.multi[0]!.ids, new Int32Array([2, 0, 0, 0]));
    assert.deepEqual(encoded.numeric[0]!.values, new Float32Array([2, 0, 0]));
    assert.throws(() => encodeFeatureRows(schema, like, [{ category: ["shoes"] }]), /"category" takes one token/);
    assert.throws(() => encodeFeatureRows(schema, like, [{ price: "cheap" }]), /"price" takes a number/);
    assert.throws(
      () => encodeFeatureRows({ ...schema, numeric: {} }, like, [{}]),
      /feature "price" is not in the model's feature schema/,
    );
  });

  test("a new item's vector is a known item's without its id field when the features are the same", () => {
    const context = tinyContext();
    const model = tiny({ dim: 4, seed: 2 }, context);
    const features = context.itemFeatures!;
    // Item 3's own feature row, as a one-row input.
    const row = {
      categorical: features.categorical.map((c) => ({ ...c, ids: c.ids.slice(3, 4) })),
      multi: features.multi.map((m) => ({
        ...m,
        offsets: new Int32Array([0, m.offsets[4]! - m.offsets[3]!]),
        ids: m.ids.slice(m.offsets[3], m.offsets[4]),
      })),
      numeric: features.numeric.map((n) => ({ ...n, values: n.values.slice(3, 4) })),
    };
    noGrad(() => {
      const known = model.itemVectors(new Ids(new Int32Array([3]))).data.slice();
      const id = model.itemEmbedding.forward(new Ids(new Int32Array([3]))).data.slice();
      const cold = model.coldItemVectors(row, 1).data.slice();
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(cold[k]! - (known[k]! - id[k]!)) < 1e-6, `dimension ${k}`);
      endStep();
    });
  });
});
