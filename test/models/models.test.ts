import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ids } from "../../src/engine/ops/embedding.js";
import { endStep } from "../../src/engine/tensor.js";
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
      gradCheck(() => model.loss(batch), model.parameters(), { tol: 3e-2 });
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

  test("unknown kinds are refused by name", () => {
    assert.throws(() => createModel({ kind: "nope" } as unknown as ModelSpec, context), /unknown model kind "nope"/);
  });
});
