import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

/** A constant (no gradient) persistent tensor with values in [-1, 1]. */
function constant(shape: number[], seed: number): Tensor {
  const t = leaf(shape, seed);
  t.requiresGrad = false;
  return t;
}

/** A leaf with values in [0.5, 1.5], safe to divide by and to take the log of. */
function positiveLeaf(shape: number[], seed: number): Tensor {
  const t = leaf(shape, seed, 0.5);
  for (let i = 0; i < t.size; i++) t.data[i] = t.data[i]! + 1;
  return t;
}

/** Σ out ⊙ w for fixed random w, so every output element gets a different upstream gradient. */
function weightedSum(out: Tensor, w: Tensor): Tensor {
  return ops.sum(ops.mul(out, w));
}

const reference: Record<string, (x: number, y: number) => number> = {
  add: (x, y) => x + y,
  sub: (x, y) => x - y,
  mul: (x, y) => x * y,
  div: (x, y) => x / y,
};

/** Each broadcasting case: a's shape, b's shape, and the index of b used by a's element i. */
const cases: { name: string; a: number[]; b: number[]; bIndex: (i: number) => number }[] = [
  { name: "same shape", a: [3, 5], b: [3, 5], bIndex: (i) => i },
  { name: "scalar []", a: [3, 5], b: [], bIndex: () => 0 },
  { name: "scalar [1]", a: [2, 7], b: [1], bIndex: () => 0 },
  { name: "bias [B,N] + [N]", a: [4, 6], b: [6], bIndex: (i) => i % 6 },
  { name: "trailing dims [B,K,D] with [K,D]", a: [2, 3, 5], b: [3, 5], bIndex: (i) => i % 15 },
  { name: "per row [B,N] with [B,1]", a: [4, 7], b: [4, 1], bIndex: (i) => Math.floor(i / 7) },
];

describe("broadcasting binary ops", () => {
  for (const op of ["add", "sub", "mul", "div"] as const) {
    for (const c of cases) {
      test(`${op}: ${c.name} forward matches a float64 reference`, () => {
        const a = leaf(c.a, 3);
        const b = positiveLeaf(c.b, 4);
        const out = ops[op](a, b);
        assert.deepEqual(out.shape, c.a);
        for (let i = 0; i < a.size; i++) {
          const want = reference[op]!(a.data[i]!, b.data[c.bIndex(i)]!);
          assert.ok(Math.abs(out.data[i]! - want) <= 1e-6 * Math.max(1, Math.abs(want)), `element ${i}`);
        }
        endStep();
      });

      test(`${op}: ${c.name} gradients match finite differences and have the operands' shapes`, () => {
        const a = leaf(c.a, 5);
        const b = positiveLeaf(c.b, 6);
        const w = constant(c.a, 7);
        gradCheck(() => weightedSum(ops[op](a, b), w), [a, b]);
        assert.deepEqual(a.grad!.shape, c.a);
        assert.deepEqual(b.grad!.shape, c.b);
      });
    }
  }

  test("the same tensor on both sides gets both contributions", () => {
    const a = positiveLeaf([3, 5], 8);
    const w = constant([3, 5], 9);
    gradCheck(() => weightedSum(ops.mul(a, a), w), [a]);
    gradCheck(() => weightedSum(ops.div(a, a), w), [a]);
    gradCheck(() => weightedSum(ops.sub(a, a), w), [a]);
  });

  test("a constant operand gets no gradient", () => {
    const a = leaf([2, 3], 1);
    const b = constant([3], 2);
    ops.sum(ops.mul(a, b)).backward();
    assert.equal(b.grad, null);
    assert.ok(a.grad);
    endStep();
  });

  test("shapes that do not broadcast are rejected with both shapes in the message", () => {
    const a = leaf([3, 4], 1);
    assert.throws(() => ops.add(a, leaf([4, 3], 2)), /add: cannot broadcast \[4, 3\] against \[3, 4\]/);
    assert.throws(() => ops.sub(a, leaf([3], 2)), /sub: cannot broadcast \[3\] against \[3, 4\]/);
    assert.throws(() => ops.mul(a, leaf([4, 1], 2)), /mul: cannot broadcast \[4, 1\] against \[3, 4\]/);
    // Broadcasting only goes one way: the first operand sets the output shape.
    assert.throws(() => ops.div(leaf([4], 2), a), /div: cannot broadcast \[3, 4\] against \[4\]/);
    endStep();
  });
});

describe("pointwise arithmetic", () => {
  const unary: { name: string; op: (t: Tensor) => Tensor; f: (x: number) => number; positive?: boolean }[] = [
    { name: "neg", op: ops.neg, f: (x) => -x },
    { name: "addScalar", op: (t) => ops.addScalar(t, 2.5), f: (x) => x + 2.5 },
    { name: "scale", op: (t) => ops.scale(t, -3), f: (x) => -3 * x },
    { name: "square", op: ops.square, f: (x) => x * x },
    { name: "exp", op: ops.exp, f: Math.exp },
    { name: "log", op: ops.log, f: Math.log, positive: true },
  ];
  for (const u of unary) {
    test(`${u.name}: forward matches float64 and the gradient matches finite differences`, () => {
      const shape = [3, 7];
      const x = u.positive ? positiveLeaf(shape, 11) : leaf(shape, 11, 2);
      const out = u.op(x);
      assert.deepEqual(out.shape, shape);
      for (let i = 0; i < x.size; i++) {
        const want = u.f(x.data[i]!);
        assert.ok(Math.abs(out.data[i]! - want) <= 2e-6 * Math.max(1, Math.abs(want)), `element ${i}`);
      }
      endStep();
      const w = constant(shape, 12);
      gradCheck(() => weightedSum(u.op(x), w), [x]);
    });
  }

  test("log follows IEEE instead of throwing: log 0 is -inf, log of a negative is NaN", () => {
    const out = ops.log(Tensor.from([0, -1, 1]));
    assert.equal(out.data[0], -Infinity);
    assert.ok(Number.isNaN(out.data[1]));
    assert.equal(out.data[2], 0);
    endStep();
  });

  test("exp overflows to +inf and underflows to 0 like float32", () => {
    const out = ops.exp(Tensor.from([100, -200, 89, -1000, 0, 0, 0, 0]));
    assert.deepEqual(Array.from(out.data.subarray(0, 5)), [Infinity, 0, Infinity, 0, 1]);
    endStep();
  });
});
