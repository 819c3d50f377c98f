import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { runtime } from "../../src/engine/runtime.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

/** Deterministic values in [-1, 1). */
function randomValues(count: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = s / 2 ** 31 - 1;
  }
  return out;
}

type Layout = "NN" | "NT" | "TN";

/** Float64 reference of C (+)= op(A)·op(B), and per element Σ|a·b| to scale the rounding tolerance. */
function reference(
  layout: Layout,
  a: Float32Array,
  b: Float32Array,
  c0: Float32Array,
  m: number,
  k: number,
  n: number,
) {
  const value = new Float64Array(m * n);
  const magnitude = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = c0[i * n + j]!;
      let abs = Math.abs(sum);
      for (let p = 0; p < k; p++) {
        const av = layout === "TN" ? a[p * m + i]! : a[i * k + p]!;
        const bv = layout === "NT" ? b[j * k + p]! : b[p * n + j]!;
        sum += av * bv;
        abs += Math.abs(av * bv);
      }
      value[i * n + j] = sum;
      magnitude[i * n + j] = abs;
    }
  }
  return { value, magnitude };
}

const SENTINEL = 12345.5;

function runKernel(layout: Layout, m: number, k: number, n: number, accumulate: 0 | 1, seed: number): void {
  const kernels = runtime().kernels;
  const a = Tensor.from(randomValues(m * k, seed));
  const b = Tensor.from(randomValues(k * n, seed + 1));
  // C has a guard region past its end that the kernel must not touch.
  const c = Tensor.from([...randomValues(m * n, seed + 2), ...new Array<number>(16).fill(SENTINEL)]);
  const before = c.data.slice(0, m * n);
  const scratch = runtime().scratch.alloc(kernels.matmulScratchBytes(k, n));
  kernels[`matmul${layout}`](a.ptr, b.ptr, c.ptr, m, k, n, accumulate, scratch);
  const start = accumulate ? before : new Float32Array(m * n);
  const { value, magnitude } = reference(layout, a.data, b.data, start, m, k, n);
  const got = c.data;
  for (let i = 0; i < m * n; i++) {
    const tol = 1e-6 * (k + 4) * (magnitude[i]! + 1e-3);
    assert.ok(
      Math.abs(got[i]! - value[i]!) <= tol,
      `${layout} ${m}×${k}×${n} acc=${accumulate}: element ${i} is ${got[i]}, want ${value[i]}`,
    );
  }
  for (let i = m * n; i < m * n + 16; i++) assert.equal(got[i], SENTINEL, `${layout} wrote past the end of C`);
  endStep();
}

const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [33, 17, 9],
  [64, 200, 65],
  [4, 8, 16],
  [7, 3, 12],
  [2, 0, 5],
  [1, 19, 35],
  [3, 8, 20],
  // Deeper than one pass over K (the kernels pack 256 rows of B at a time).
  [9, 600, 13],
  [5, 513, 8],
];

describe("matmul kernels", () => {
  for (const layout of ["NN", "NT", "TN"] as const) {
    test(`${layout} matches a float64 reference on odd shapes, overwriting and accumulating`, () => {
      let seed = 1;
      for (const [m, k, n] of SHAPES) {
        for (const accumulate of [0, 1] as const) runKernel(layout, m, k, n, accumulate, seed++ * 7);
      }
    });
  }

  test("addRowBias adds the bias to every row", () => {
    const kernels = runtime().kernels;
    const [rows, cols] = [5, 7];
    const out = Tensor.from(randomValues(rows * cols, 3));
    const bias = Tensor.from(randomValues(cols, 4));
    const before = out.data.slice();
    kernels.addRowBias(out.ptr, bias.ptr, rows, cols);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        assert.equal(out.data[r * cols + j], Math.fround(before[r * cols + j]! + bias.data[j]!));
      }
    }
    endStep();
  });
});

/** A scalar loss that weights each output element differently, so every gradient entry is distinct. */
function weightedSum(out: Tensor, seed: number): Tensor {
  return ops.sum(ops.mul(out, Tensor.from(randomValues(out.size, seed), out.shape)));
}

describe("matmul op", () => {
  test("forward matches a float64 reference", () => {
    const a = leaf([5, 7], 1);
    const b = leaf([7, 3], 2);
    const out = ops.matmul(a, b);
    assert.deepEqual(out.shape, [5, 3]);
    const { value } = reference("NN", a.data, b.data, new Float32Array(15), 5, 7, 3);
    for (let i = 0; i < 15; i++) assert.ok(Math.abs(out.data[i]! - value[i]!) < 1e-5);
    endStep();
  });

  test("gradients match finite differences", () => {
    const a = leaf([5, 7], 3);
    const b = leaf([7, 9], 4);
    gradCheck(() => weightedSum(ops.matmul(a, b), 5), [a, b]);
  });

  test("only inputs that require grad receive one", () => {
    const a = leaf([6, 4], 6);
    const b = leaf([4, 3], 7);
    b.requiresGrad = false;
    gradCheck(() => weightedSum(ops.matmul(a, b), 8), [a]);
    assert.ok(b.grad === null, "a frozen input got a gradient");
  });

  test("rejects mismatched shapes", () => {
    assert.throws(() => ops.matmul(leaf([2, 3]), leaf([4, 5])), /matmul: shapes \[2, 3\] and \[4, 5\]/);
    assert.throws(() => ops.matmul(leaf([6]), leaf([6, 2])), /matmul: shapes \[6\] and \[6, 2\]/);
  });
});

describe("linear op", () => {
  test("forward is x·weightᵀ + bias", () => {
    const [batch, inF, outF] = [6, 11, 9];
    const x = leaf([batch, inF], 1);
    const w = leaf([outF, inF], 2);
    const bias = leaf([outF], 3);
    const out = ops.linear(x, w, bias);
    assert.deepEqual(out.shape, [batch, outF]);
    const { value } = reference("NT", x.data, w.data, new Float32Array(batch * outF), batch, inF, outF);
    for (let r = 0; r < batch; r++) {
      for (let j = 0; j < outF; j++) {
        assert.ok(Math.abs(out.data[r * outF + j]! - (value[r * outF + j]! + bias.data[j]!)) < 1e-5);
      }
    }
    endStep();
  });

  test("gradients match finite differences, with and without bias", () => {
    const x = leaf([6, 11], 4);
    const w = leaf([9, 11], 5);
    const bias = leaf([9], 6);
    gradCheck(() => weightedSum(ops.linear(x, w, bias), 7), [x, w, bias]);
    gradCheck(() => weightedSum(ops.linear(x, w), 8), [x, w]);
  });

  test("frozen weights or inputs receive no gradient", () => {
    const x = leaf([5, 3], 9);
    const w = leaf([4, 3], 10);
    const bias = leaf([4], 11);
    x.requiresGrad = false;
    gradCheck(() => weightedSum(ops.linear(x, w, bias), 12), [w, bias]);
    assert.ok(x.grad === null, "a frozen input got a gradient");
    x.requiresGrad = true;
    for (const frozen of [w, bias]) {
      frozen.requiresGrad = false;
      frozen.grad = null;
    }
    gradCheck(() => weightedSum(ops.linear(x, w, bias), 13), [x]);
    assert.ok(w.grad === null && bias.grad === null, "a frozen weight or bias got a gradient");
  });

  test("gradients flow through a two-layer stack", () => {
    const x = leaf([7, 5], 14);
    const w1 = leaf([6, 5], 15);
    const b1 = leaf([6], 16);
    const w2 = leaf([6, 3], 17);
    gradCheck(() => weightedSum(ops.matmul(ops.linear(x, w1, b1), w2), 18), [x, w1, b1, w2]);
  });

  test("rejects mismatched shapes", () => {
    assert.throws(() => ops.linear(leaf([2, 3]), leaf([4, 5])), /linear: input \[2, 3\] and weight \[4, 5\]/);
    assert.throws(() => ops.linear(leaf([2, 3]), leaf([4, 3]), leaf([5])), /linear: bias \[5\] .* weight \[4, 3\]/);
  });
});
