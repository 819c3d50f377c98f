import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { endStep } from "../../src/engine/tensor.js";
import { denseGrad, gradCheck, leaf } from "../helpers/gradcheck.js";

describe("embedding lookup", () => {
  test("gathers the requested rows", () => {
    const table = leaf([4, 3], 7);
    const out = ops.embedding(table, new Int32Array([2, 0, 2]));
    assert.deepEqual(out.shape, [3, 3]);
    assert.deepEqual(Array.from(out.data.subarray(0, 3)), Array.from(table.data.subarray(6, 9)));
    assert.deepEqual(Array.from(out.data.subarray(3, 6)), Array.from(table.data.subarray(0, 3)));
    endStep();
  });

  test("rejects ids outside the table", () => {
    const table = leaf([4, 3], 7);
    assert.throws(() => ops.embedding(table, new Int32Array([4])), /outside the table's 4 rows/);
    endStep();
  });

  for (const sparse of [true, false]) {
    test(`BPR-style loss gradient matches finite differences (${sparse ? "sparse" : "dense"} table)`, () => {
      const users = leaf([3, 5], 11);
      const items = leaf([6, 5], 12);
      users.sparse = sparse;
      items.sparse = sparse;
      const loss = () => {
        const u = ops.embedding(users, new Int32Array([0, 2, 2]));
        const p = ops.embedding(items, new Int32Array([1, 4, 1]));
        const n = ops.embedding(items, new Int32Array([5, 1, 0]));
        return ops.scale(ops.mean(ops.logSigmoid(ops.sub(ops.rowDot(u, p), ops.rowDot(u, n)))), -1);
      };
      gradCheck(loss, [users, items]);
    });
  }

  test("sparse and dense table gradients agree, and untouched rows get nothing", () => {
    const grads = [true, false].map((sparse) => {
      const items = leaf([6, 4], 3);
      items.sparse = sparse;
      const e = ops.embedding(items, new Int32Array([1, 3, 1]));
      ops.sum(ops.mul(e, e)).backward();
      const g = denseGrad(items);
      endStep();
      return g;
    });
    assert.deepEqual(grads[0], grads[1]);
    for (const row of [0, 2, 4, 5]) for (let j = 0; j < 4; j++) assert.equal(grads[0]![row * 4 + j], 0);
  });
});
