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

/** Element [i, j, ...] of a row-major tensor. */
function at(t: Tensor, ...index: number[]): number {
  let flat = 0;
  index.forEach((v, d) => (flat = flat * t.shape[d]! + v));
  return t.data[flat]!;
}

describe("concat", () => {
  test("along the last axis joins rows side by side", () => {
    const a = leaf([3, 2], 1);
    const b = leaf([3, 5], 2);
    const c = leaf([3, 1], 3);
    const out = ops.concat([a, b, c], -1);
    assert.deepEqual(out.shape, [3, 8]);
    for (let r = 0; r < 3; r++) {
      for (let j = 0; j < 2; j++) assert.equal(at(out, r, j), at(a, r, j));
      for (let j = 0; j < 5; j++) assert.equal(at(out, r, 2 + j), at(b, r, j));
      assert.equal(at(out, r, 7), at(c, r, 0));
    }
    endStep();
  });

  test("along axis 0 stacks rows", () => {
    const a = leaf([2, 3], 4);
    const b = leaf([1, 3], 5);
    const out = ops.concat([a, b], 0);
    assert.deepEqual(out.shape, [3, 3]);
    assert.deepEqual(out.toArray(), [...a.toArray(), ...b.toArray()]);
    endStep();
  });

  test("along a middle axis of 3-D tensors", () => {
    const a = leaf([2, 1, 3], 6);
    const b = leaf([2, 2, 3], 7);
    const out = ops.concat([a, b], 1);
    assert.deepEqual(out.shape, [2, 3, 3]);
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 3; j++) {
        assert.equal(at(out, i, 0, j), at(a, i, 0, j));
        assert.equal(at(out, i, 2, j), at(b, i, 1, j));
      }
    }
    endStep();
  });

  for (const axis of [0, 1, -1]) {
    test(`gradient splits back to every input (axis ${axis})`, () => {
      const a = leaf(axis === 0 ? [2, 5] : [4, 3], 8);
      const b = leaf(axis === 0 ? [3, 5] : [4, 6], 9);
      const outShape = axis === 0 ? [5, 5] : [4, 9];
      const w = constant(outShape, 10);
      gradCheck(() => ops.sum(ops.mul(ops.concat([a, b], axis), w)), [a, b]);
    });
  }

  test("mismatched shapes and bad axes are rejected", () => {
    const a = leaf([2, 3], 1);
    assert.throws(
      () => ops.concat([a, leaf([3, 3], 2)], -1),
      /concat: shapes \[2, 3\], \[3, 3\] differ outside axis 1/,
    );
    assert.throws(() => ops.concat([a, leaf([2, 3, 1], 2)], 0), /concat: shapes/);
    assert.throws(() => ops.concat([a], 2), /concat: axis 2 is out of range for shape \[2, 3\]/);
    assert.throws(() => ops.concat([], 0), /concat: needs at least one tensor/);
    endStep();
  });
});

describe("slices", () => {
  test("sliceLastDim takes columns and its gradient fills only those columns", () => {
    const x = leaf([3, 7], 11);
    const out = ops.sliceLastDim(x, 2, 6);
    assert.deepEqual(out.shape, [3, 4]);
    for (let r = 0; r < 3; r++) for (let j = 0; j < 4; j++) assert.equal(at(out, r, j), at(x, r, 2 + j));
    endStep();
    const w = constant([3, 4], 12);
    gradCheck(() => ops.sum(ops.mul(ops.sliceLastDim(x, 2, 6), w)), [x]);
    for (let r = 0; r < 3; r++) {
      for (const j of [0, 1, 6]) assert.equal(at(x.grad!, r, j), 0);
    }
  });

  test("sliceRows takes rows and its gradient fills only those rows", () => {
    const x = leaf([5, 3], 13);
    const out = ops.sliceRows(x, 1, 3);
    assert.deepEqual(out.shape, [2, 3]);
    assert.deepEqual(out.toArray(), x.toArray().slice(3, 9));
    endStep();
    const w = constant([2, 3], 14);
    gradCheck(() => ops.sum(ops.mul(ops.sliceRows(x, 1, 3), w)), [x]);
    for (const r of [0, 3, 4]) for (let j = 0; j < 3; j++) assert.equal(at(x.grad!, r, j), 0);
  });

  test("ranges outside the tensor are rejected", () => {
    const x = leaf([4, 5], 15);
    assert.throws(() => ops.sliceLastDim(x, 3, 6), /sliceLastDim: range \[3, 6\) does not fit in 5 \(shape \[4, 5\]\)/);
    assert.throws(() => ops.sliceLastDim(x, 3, 2), /sliceLastDim: range/);
    assert.throws(() => ops.sliceRows(x, -1, 2), /sliceRows: range \[-1, 2\) does not fit in 4/);
    assert.throws(() => ops.sliceRows(x, 0, 1.5), /sliceRows: range/);
    endStep();
  });
});

describe("dot", () => {
  test("matches float64 and its gradients match finite differences", () => {
    const a = leaf([13], 16);
    const b = leaf([13], 17);
    let want = 0;
    for (let i = 0; i < 13; i++) want += a.data[i]! * b.data[i]!;
    const out = ops.dot(a, b);
    assert.deepEqual(out.shape, []);
    assert.ok(Math.abs(out.item() - want) < 1e-5);
    endStep();
    gradCheck(() => ops.square(ops.dot(a, b)), [a, b]);
  });

  test("needs two vectors of the same length", () => {
    assert.throws(
      () => ops.dot(leaf([3], 1), leaf([4], 2)),
      /dot: needs two vectors of the same length, got \[3\] and \[4\]/,
    );
    assert.throws(() => ops.dot(leaf([2, 2], 1), leaf([4], 2)), /dot: needs two vectors/);
    endStep();
  });
});
