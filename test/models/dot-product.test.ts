// The dot-product capability: which zoo models have it, and that their vectors are the ones they score by.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ids } from "../../src/engine/ops/embedding.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import {
  createModel,
  hasColdItems,
  isDotProduct,
  MODEL_KINDS,
  specOfWidth,
  type DotProductModel,
  type ModelKind,
} from "../../src/models/index.js";
import { tinyContext } from "../helpers/models.js";

const context = tinyContext();

/** The zoo model of `kind`, which must be a dot-product model. */
function dotModel(kind: ModelKind, seed = 1): DotProductModel {
  const model = createModel(specOfWidth(kind, 4, seed), context);
  assert.ok(isDotProduct(model), kind);
  return model;
}

function dot(a: Float32Array, b: Float32Array, offset: number): number {
  let s = 0;
  for (let d = 0; d < a.length; d++) s += a[d]! * b[offset + d]!;
  return s;
}

describe("dot-product models", () => {
  test("BPR-MF, the two-tower and SASRec have the capability; models that do not factor do not", () => {
    for (const kind of MODEL_KINDS) {
      const model = createModel(specOfWidth(kind, 4, 1), context);
      assert.equal(isDotProduct(model), kind === "bpr-mf" || kind === "two-tower" || kind === "sasrec", kind);
    }
  });

  for (const kind of ["bpr-mf", "two-tower"] as const) {
    test(`${kind}: the score is the dot product of userVector and the item vector table`, () => {
      const model = dotModel(kind, 3);
      model.eval();
      const table = model.itemVectorTable(3);
      assert.equal(table.length, context.numItems * model.dim);
      const history = new Int32Array([1, 4]);
      const u = model.userVector({ user: 2, history });
      const scores = noGrad(() => {
        const items = Int32Array.from({ length: context.numItems }, (_, i) => i);
        const bag = {
          ids: Int32Array.from({ length: 2 * items.length }, (_, k) => history[k % 2]!),
          offsets: items.map((i) => 2 * i),
        };
        const s = model.forward({
          users: new Ids(new Int32Array(items.length).fill(2)),
          items: new Ids(items),
          history: bag,
        });
        const out = s.data.slice();
        endStep();
        return out;
      });
      scores.forEach((s, i) => assert.ok(Math.abs(s - dot(u, table, i * model.dim)) < 1e-5, `item ${i}`));
    });
  }

  test("only the two-tower gives items it never saw a vector from their features", () => {
    const tower = dotModel("two-tower");
    const mf = dotModel("bpr-mf");
    assert.ok(hasColdItems(tower));
    assert.ok(!hasColdItems(mf));
    assert.deepEqual(tower.retrievalPrecisions, ["f32", "int8"]);
    assert.deepEqual(mf.retrievalPrecisions, ["f32"]);
  });
});

describe("batched list scoring", () => {
  const specs: [string, Record<string, unknown>][] = [
    ["bpr-mf", { kind: "bpr-mf", dim: 4, seed: 2, initStd: 0.5 }],
    ["two-tower", { kind: "two-tower", dim: 4, maxHistory: 3, seed: 2, initStd: 0.5 }],
    [
      "two-tower, int8 retrieval",
      { kind: "two-tower", dim: 4, maxHistory: 3, seed: 2, initStd: 0.5, retrieval: "int8" },
    ],
    ["sasrec", { kind: "sasrec", dim: 4, heads: 2, maxLength: 3, dropout: 0, seed: 2 }],
  ];
  for (const [name, spec] of specs) {
    test(`${name}: scoreLists gives every query's scoreCandidates, with and without explicit histories`, () => {
      const model = createModel(spec as never, context);
      model.eval();
      const scorer = model.scorer();
      assert.ok(scorer.scoreLists, `${name} scores lists in batches`);
      const lists = [Int32Array.from([0, 3, 6]), Int32Array.from([2]), Int32Array.from([5, 5, 1, 4])];
      const plain = [{ user: 0 }, { user: 3 }, { user: 4 }];
      const live = [
        { user: 0, history: Int32Array.from([1, 2]) },
        { user: 3, history: new Int32Array(0) },
        { user: 4, history: Int32Array.from([6, 0, 3, 5]) },
      ];
      for (const queries of [plain, live, [plain[0]!, live[1]!, plain[2]!]]) {
        const batched = scorer.scoreLists!(queries, lists);
        queries.forEach((q, k) => {
          const one = scorer.scoreCandidates(q, lists[k]!);
          assert.equal(batched[k]!.length, one.length);
          one.forEach((s, j) => assert.ok(Math.abs(batched[k]![j]! - s) < 1e-5, `${name} query ${k} item ${j}`));
        });
      }
      assert.throws(() => scorer.scoreLists!([{ user: 0 }], [Int32Array.from([99])]), /outside/);
      scorer.dispose?.();
    });
  }
});
