import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

function constant(shape: number[], seed: number): Tensor {
  const t = leaf(shape, seed);
  t.requiresGrad = false;
  return t;
}

function close(got: number, want: number, what: string): void {
  assert.ok(Math.abs(got - want) <= 1e-5 * Math.max(1, Math.abs(want)), `${what}: got ${got}, want ${want}`);
}

describe("reductions to a scalar", () => {
  test("sum and mean match float64 and have the right gradients", () => {
    const x = leaf([5, 7], 1);
    let total = 0;
    for (const v of x.data) total += v;
    close(ops.sum(x).item(), total, "sum");
    close(ops.mean(x).item(), total / 35, "mean");
    assert.deepEqual(ops.sum(x).shape, []);
    endStep();
    gradCheck(() => ops.sum(ops.square(x)), [x]);
    gradCheck(() => ops.mean(ops.square(x)), [x]);
  });
});

describe("row and column reductions", () => {
  for (const shape of [
    [4, 7],
    [2, 3, 5],
    [3, 8],
  ]) {
    const n = shape.at(-1)!;
    const rows = shape[0]!;
    test(`sumLastDim / meanLastDim on [${shape}] match float64`, () => {
      const x = leaf(shape, 2);
      const s = ops.sumLastDim(x);
      const m = ops.meanLastDim(x);
      assert.deepEqual(s.shape, shape.slice(0, -1));
      for (let r = 0; r < x.size / n; r++) {
        let want = 0;
        for (let j = 0; j < n; j++) want += x.data[r * n + j]!;
        close(s.data[r]!, want, `sum row ${r}`);
        close(m.data[r]!, want / n, `mean row ${r}`);
      }
      endStep();
    });

    test(`sumRows / meanRows on [${shape}] match float64`, () => {
      const x = leaf(shape, 3);
      const s = ops.sumRows(x);
      const m = ops.meanRows(x);
      assert.deepEqual(s.shape, shape.slice(1));
      const width = x.size / rows;
      for (let j = 0; j < width; j++) {
        let want = 0;
        for (let r = 0; r < rows; r++) want += x.data[r * width + j]!;
        close(s.data[j]!, want, `sum column ${j}`);
        close(m.data[j]!, want / rows, `mean column ${j}`);
      }
      endStep();
    });

    test(`gradients on [${shape}] match finite differences`, () => {
      const x = leaf(shape, 4);
      const wLast = constant(shape.slice(0, -1), 5);
      const wRows = constant(shape.slice(1), 6);
      gradCheck(() => ops.sum(ops.mul(ops.sumLastDim(x), wLast)), [x]);
      gradCheck(() => ops.sum(ops.mul(ops.meanLastDim(x), wLast)), [x]);
      gradCheck(() => ops.sum(ops.mul(ops.sumRows(x), wRows)), [x]);
      gradCheck(() => ops.sum(ops.mul(ops.meanRows(x), wRows)), [x]);
    });
  }

  test("a vector reduces to a scalar", () => {
    const x = Tensor.from([1, 2, 3]);
    assert.deepEqual(ops.sumLastDim(x).shape, []);
    assert.equal(ops.sumLastDim(x).item(), 6);
    assert.equal(ops.meanRows(x).item(), 2);
    endStep();
  });

  test("scalars are rejected", () => {
    const x = Tensor.scalar(1);
    assert.throws(() => ops.sumLastDim(x), /sumLastDim: needs at least one dimension/);
    assert.throws(() => ops.meanRows(x), /meanRows: needs at least one dimension/);
    endStep();
  });
});
