import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { HashedEmbedding, QREmbedding, type IdTableSpec } from "../../src/engine/index.js";
import { Embedding } from "../../src/engine/nn.js";
import { BPRMF, createModel, DotScorer, PairScorer, type BPRMFConfig, type ModelSpec } from "../../src/models/index.js";
import { gradCheck } from "../helpers/gradcheck.js";
import { forwardOne, trainBriefly } from "../helpers/models.js";

const context = { numUsers: 7, numItems: 9 };
const tables: [string, BPRMFConfig][] = [
  ["QR user table", { dim: 4, userTable: { kind: "qr", remainderRows: 3 } }],
  [
    "hashed user table, QR item table (sum)",
    { dim: 4, userTable: { kind: "hashed", buckets: 5 }, itemTable: { kind: "qr", remainderRows: 4, combine: "add" } },
  ],
];

function build(config: BPRMFConfig, ctx = context): BPRMF<IdTableSpec, IdTableSpec> {
  return new BPRMF({ seed: 2, initStd: 0.5, ...config }, ctx);
}

describe("BPR-MF id tables", () => {
  for (const [name, config] of tables) {
    test(`${name}: BPR loss gradient matches finite differences for every parameter`, () => {
      const model = build(config);
      const batch = {
        users: new Int32Array([0, 3, 3, 7]),
        positives: new Int32Array([1, 2, 8, 0]),
        negatives: new Int32Array([4, 4, 5, 2]),
      };
      gradCheck(() => model.loss(batch), model.parameters());
    });

    test(`${name}: the scorer agrees with forward for every item`, () => {
      const model = build(config);
      const scorer = model.scorer();
      const all = scorer.scoreAll({ user: 5 });
      for (let i = 0; i < 9; i++) assert.ok(Math.abs(all[i]! - forwardOne(model, 5, i)) < 1e-5, `item ${i}`);
      const some = scorer.scoreCandidates({ user: 5 }, new Int32Array([8, 0, 8]));
      [8, 0, 8].forEach((item, k) => assert.ok(Math.abs(some[k]! - all[item]!) < 1e-5));
    });
  }

  test("the tables are the modules their specs name; full tables keep their parameter names", () => {
    const full = build({ dim: 4 });
    assert.ok(full.userEmbedding instanceof Embedding && full.itemEmbedding instanceof Embedding);
    assert.deepEqual(
      full.namedParameters().map(([n]) => n),
      ["user.weight", "item.weight"],
    );
    const [, mixed] = tables[1]!;
    const model = build(mixed);
    assert.ok(model.userEmbedding instanceof HashedEmbedding && model.itemEmbedding instanceof QREmbedding);
    assert.deepEqual(
      model.namedParameters().map(([n]) => n),
      ["user.table.weight", "item.quotient.weight", "item.remainder.weight"],
    );
    // users: 5 buckets; items: ceil(9 / 4) quotient + 4 remainder rows
    assert.equal(model.parameterCount(), (5 + 3 + 4) * 4);
  });

  test("a QR user table for a million users takes (ceil(n / m) + m) rows instead of n", () => {
    const numUsers = 1_000_000;
    const model = build({ dim: 16, userTable: { kind: "qr" } }, { numUsers, numItems: 50 });
    // n = numUsers + 1 (the unknown user's row), m = ceil(√n) = 1001, ceil(n / m) = 1000
    assert.equal(model.parameterCount(), (1000 + 1001) * 16 + 50 * 16);
    assert.ok(model.parameterCount() * 100 < (numUsers + 1) * 16);
  });

  test("FLOPs per item: the dot product, plus composing the item's vector for a QR item table", () => {
    assert.equal(build({ dim: 6 }).flopsPerItem(), 12);
    assert.equal(build({ dim: 6, userTable: { kind: "qr" } }).flopsPerItem(), 12);
    assert.equal(build({ dim: 6, itemTable: { kind: "hashed", buckets: 4 } }).flopsPerItem(), 12);
    assert.equal(build({ dim: 6, itemTable: { kind: "qr" } }).flopsPerItem(), 18);
  });

  test("item tables with stored rows are scanned by the dot scorer, compositional ones scored through forward", () => {
    assert.ok(build({ dim: 4, userTable: { kind: "qr" } }).scorer() instanceof DotScorer);
    assert.ok(build({ dim: 4, itemTable: { kind: "qr" } }).scorer() instanceof PairScorer);
  });

  test("the dot scorer refuses a user outside the user table", () => {
    assert.throws(() => build({ dim: 4 }).scorer().scoreAll({ user: 8 }), /id 8 at position 0 is outside/);
  });

  test("an unknown table kind is refused by name", () => {
    const spec = { kind: "bpr-mf", dim: 4, userTable: { kind: "bloom" } } as unknown as ModelSpec;
    assert.throws(() => createModel(spec, context), /id table kind must be "full", "qr" or "hashed", got "bloom"/);
  });

  test("a short BPR run with a QR user table lowers the loss", () => {
    const { before, after } = trainBriefly((ctx) =>
      createModel({ kind: "bpr-mf", dim: 8, userTable: { kind: "qr" }, seed: 1 }, ctx),
    );
    assert.ok(after < before - 0.1, `loss ${before} → ${after}`);
  });
});
