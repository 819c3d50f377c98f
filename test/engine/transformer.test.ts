import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { LayerNorm, MultiHeadAttention } from "../../src/engine/nn.js";
import { Rng } from "../../src/engine/random.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

/** Float64 reference of masked multi-head attention on [batch · len, heads · headDim] rows. */
function referenceAttention(
  q: Float32Array,
  k: Float32Array,
  v: Float32Array,
  valid: Int32Array,
  batch: number,
  len: number,
  heads: number,
  headDim: number,
  causal: boolean,
): Float64Array {
  const width = heads * headDim;
  const out = new Float64Array(batch * len * width);
  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < len; i++) {
        if (!valid[b * len + i]) continue;
        const scores: number[] = [];
        const keys: number[] = [];
        for (let j = 0; j < len; j++) {
          if ((causal && j > i) || !valid[b * len + j]) continue;
          let s = 0;
          for (let d = 0; d < headDim; d++) {
            s += q[(b * len + i) * width + h * headDim + d]! * k[(b * len + j) * width + h * headDim + d]!;
          }
          scores.push(s / Math.sqrt(headDim));
          keys.push(j);
        }
        if (keys.length === 0) continue;
        const m = Math.max(...scores);
        const e = scores.map((s) => Math.exp(s - m));
        const total = e.reduce((a, x) => a + x, 0);
        keys.forEach((j, t) => {
          for (let d = 0; d < headDim; d++) {
            out[(b * len + i) * width + h * headDim + d]! +=
              (e[t]! / total) * v[(b * len + j) * width + h * headDim + d]!;
          }
        });
      }
    }
  }
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
  }
}

describe("layerNorm", () => {
  test("normalises each row to the gain and bias (float64 reference)", () => {
    const x = leaf([3, 7], 1, 3);
    const gamma = leaf([7], 2);
    const beta = leaf([7], 3);
    const y = ops.layerNorm(x, gamma, beta, 1e-5).toArray();
    const xd = x.data;
    for (let r = 0; r < 3; r++) {
      const row = Array.from(xd.subarray(r * 7, r * 7 + 7));
      const mean = row.reduce((a, b) => a + b, 0) / 7;
      const variance = row.reduce((a, b) => a + (b - mean) ** 2, 0) / 7;
      const want = row.map((v, j) => ((v - mean) / Math.sqrt(variance + 1e-5)) * gamma.data[j]! + beta.data[j]!);
      assertClose(y.slice(r * 7, r * 7 + 7), want, 1e-5, `row ${r}`);
    }
    endStep();
  });

  test("gradients of input, gain and bias match finite differences", () => {
    const x = leaf([4, 9], 4, 2);
    const gamma = leaf([9], 5);
    const beta = leaf([9], 6);
    const w = leaf([4, 9], 7);
    gradCheck(() => ops.sum(ops.mul(ops.layerNorm(x, gamma, beta), w)), [x, gamma, beta], { eps: 1e-2 });
  });

  test("rejects a gain of the wrong width", () => {
    assert.throws(() => ops.layerNorm(leaf([2, 4]), leaf([3]), leaf([4])), /gamma and beta of \[4\]/);
  });

  test("the LayerNorm module starts as plain normalisation", () => {
    const norm = new LayerNorm(5);
    const y = norm.forward(Tensor.from([1, 2, 3, 4, 5], [1, 5])).toArray();
    assertClose(y, [-1.41421, -0.70711, 0, 0.70711, 1.41421], 1e-4, "normalised");
    endStep();
  });
});

describe("attention", () => {
  const batch = 2;
  const len = 5;
  const heads = 2;
  const headDim = 3;
  const width = heads * headDim;
  // Sequence 0 left-padded by two positions, sequence 1 full.
  const valid = Int32Array.from([0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);

  for (const causal of [true, false]) {
    test(`matches a float64 reference with ${causal ? "causal and " : ""}padding masks, two heads`, () => {
      const q = leaf([batch * len, width], 11);
      const k = leaf([batch * len, width], 12);
      const v = leaf([batch * len, width], 13);
      const y = ops.attention(q, k, v, { batch, length: len, heads, causal, valid }).toArray();
      const want = referenceAttention(q.data, k.data, v.data, valid, batch, len, heads, headDim, causal);
      assertClose(y, want, 1e-5, "attention");
      endStep();
    });
  }

  test("padded queries output zeros, and no query attends a later or padded key", () => {
    const q = leaf([batch * len, width], 14);
    const k = leaf([batch * len, width], 15);
    const v = leaf([batch * len, width], 16);
    const y = ops.attention(q, k, v, { batch, length: len, heads, valid }).toArray();
    assert.ok(y.slice(0, 2 * width).every((x) => x === 0));
    // Position 2 of sequence 0 sees only itself: its output is its own value row.
    assertClose(y.slice(2 * width, 3 * width), Array.from(v.data.subarray(2 * width, 3 * width)), 1e-6, "first real");
    // Changing a later key or a padded key changes nothing at position 3.
    const before = y.slice(3 * width, 4 * width);
    k.data[4 * width] = (k.data[4 * width] ?? 0) + 5;
    k.data[0] = (k.data[0] ?? 0) + 5;
    v.data[1 * width] = (v.data[1 * width] ?? 0) + 5;
    const after = ops
      .attention(q, k, v, { batch, length: len, heads, valid })
      .toArray()
      .slice(3 * width, 4 * width);
    assertClose(after, before, 0, "masked keys");
    endStep();
  });

  for (const dropout of [0, 0.3]) {
    test(`gradients of q, k and v match finite differences (dropout ${dropout})`, () => {
      const q = leaf([batch * len, width], 21);
      const k = leaf([batch * len, width], 22);
      const v = leaf([batch * len, width], 23);
      const w = leaf([batch * len, width], 24);
      const options = { batch, length: len, heads, valid, ...(dropout ? { dropout: { p: dropout, seed: 77 } } : {}) };
      gradCheck(() => ops.sum(ops.mul(ops.attention(q, k, v, options), w)), [q, k, v], {
        eps: 1e-2,
        maxElements: 60,
      });
    });
  }

  /** The rows of the last `queries` positions of each sequence, from [batch · len, width]. */
  function lastRows(x: Tensor, queries: number): Tensor {
    const ids = Int32Array.from({ length: batch * queries }, (_, r) => {
      const b = Math.floor(r / queries);
      return b * len + len - queries + (r % queries);
    });
    return ops.embedding(x, ids);
  }

  for (const causal of [true, false]) {
    test(`queries: the last positions alone give the full attention's last rows${causal ? ", causal" : ""}`, () => {
      const q = leaf([batch * len, width], 25);
      const k = leaf([batch * len, width], 26);
      const v = leaf([batch * len, width], 27);
      const full = lastRows(ops.attention(q, k, v, { batch, length: len, heads, causal, valid }), 2).toArray();
      const last = ops.attention(lastRows(q, 2), k, v, { batch, length: len, heads, causal, valid, queries: 2 });
      assert.deepEqual(last.shape, [batch * 2, width]);
      assertClose(last.toArray(), full, 1e-6, "last two positions");
      endStep();
    });
  }

  test("queries: gradients of q, k and v match finite differences", () => {
    const q = leaf([batch * 2, width], 28);
    const k = leaf([batch * len, width], 29);
    const v = leaf([batch * len, width], 30);
    const w = leaf([batch * 2, width], 35);
    const options = { batch, length: len, heads, valid, queries: 2, dropout: { p: 0.3, seed: 78 } };
    gradCheck(() => ops.sum(ops.mul(ops.attention(q, k, v, options), w)), [q, k, v], {
      eps: 1e-2,
      maxElements: 60,
    });
  });

  test("dropout on the weights: the same seed gives the same output, another seed another", () => {
    const q = leaf([batch * len, width], 31);
    const k = leaf([batch * len, width], 32);
    const v = leaf([batch * len, width], 33);
    const run = (seed: number) =>
      ops.attention(q, k, v, { batch, length: len, heads, valid, dropout: { p: 0.5, seed } }).toArray();
    assert.deepEqual(run(5), run(5));
    assert.notDeepEqual(run(5), run(6));
    endStep();
  });

  test("rejects heads that do not divide the width and masks of the wrong length", () => {
    const x = leaf([batch * len, width], 34);
    assert.throws(() => ops.attention(x, x, x, { batch, length: len, heads: 4 }), /4 heads do not divide the width 6/);
    assert.throws(
      () => ops.attention(x, x, x, { batch, length: len, heads, valid: new Int32Array(3) }),
      /valid has 3 entries, not 10/,
    );
    assert.throws(() => ops.attention(x, x, x, { batch, length: len, heads, queries: 6 }), /queries must be .* 1..5/);
    assert.throws(
      () => ops.attention(x, x, x, { batch, length: len, heads, queries: 2 }),
      /q \[10, 6\] is not \[batch · queries = 4, 6\]/,
    );
  });

  test("MultiHeadAttention: parameter gradients match finite differences", () => {
    const mha = new MultiHeadAttention(width, { rng: new Rng(3), heads });
    const x = leaf([batch * len, width], 41);
    const w = leaf([batch * len, width], 42);
    const params = mha.parameters();
    assert.equal(params.length, 8);
    gradCheck(() => ops.sum(ops.mul(mha.forward(x, { batch, length: len, valid }), w)), [x, ...params], {
      eps: 1e-2,
      maxElements: 24,
    });
  });
});

describe("bmm", () => {
  test("multiplies each batch entry, and its gradients match finite differences", () => {
    const a = leaf([3, 5, 4], 51);
    const b = leaf([3, 4, 6], 52);
    const y = ops.bmm(a, b);
    assert.deepEqual(y.shape, [3, 5, 6]);
    const yd = y.data;
    for (let i = 0; i < 3; i++) {
      for (let r = 0; r < 5; r++) {
        for (let c = 0; c < 6; c++) {
          let s = 0;
          for (let p = 0; p < 4; p++) s += a.data[i * 20 + r * 4 + p]! * b.data[i * 24 + p * 6 + c]!;
          assert.ok(Math.abs(yd[i * 30 + r * 6 + c]! - s) < 1e-5);
        }
      }
    }
    endStep();
    const w = leaf([3, 5, 6], 53);
    gradCheck(() => ops.sum(ops.mul(ops.bmm(a, b), w)), [a, b]);
  });

  test("rejects shapes that do not chain", () => {
    assert.throws(() => ops.bmm(leaf([2, 3, 4]), leaf([2, 5, 6])), /do not form \[B, M, K\]·\[B, K, N\]/);
  });
});

describe("dropout", () => {
  test("drops about p of the elements, scales the rest, and is reproducible from its seed", () => {
    const x = Tensor.from(new Array<number>(20000).fill(1), [20000], { persistent: true });
    const y = ops.dropout(x, 0.2, 99).toArray();
    const zeros = y.filter((v) => v === 0).length;
    assert.ok(Math.abs(zeros / 20000 - 0.2) < 0.015, `dropped ${zeros}`);
    assert.ok(y.every((v) => v === 0 || Math.abs(v - 1.25) < 1e-6));
    assert.deepEqual(ops.dropout(x, 0.2, 99).toArray(), y);
    assert.notDeepEqual(ops.dropout(x, 0.2, 100).toArray(), y);
    endStep();
  });
});
