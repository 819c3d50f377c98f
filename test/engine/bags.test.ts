import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { denseGrad, gradCheck, leaf } from "../helpers/gradcheck.js";

/** Bag b covers [offsets[b], offsets[b+1]); the last ends at n. */
function bagRanges(offsets: Int32Array, n: number): [number, number][] {
  return Array.from(offsets, (start, b) => [start, b + 1 < offsets.length ? offsets[b + 1]! : n]);
}

function referenceBag(table: Tensor, ids: Int32Array, offsets: Int32Array, mean: boolean): number[] {
  const dim = table.shape[1]!;
  const t = table.data;
  const out: number[] = [];
  for (const [start, end] of bagRanges(offsets, ids.length)) {
    const row = new Array<number>(dim).fill(0);
    for (let i = start; i < end; i++) for (let j = 0; j < dim; j++) row[j]! += t[ids[i]! * dim + j]!;
    const div = mean && end > start ? end - start : 1;
    out.push(...row.map((v) => v / div));
  }
  return out;
}

function referenceAttention(values: Tensor, offsets: Int32Array, query: Tensor): number[] {
  const [n, dim] = values.shape as [number, number];
  const v = values.data;
  const q = query.data;
  const out: number[] = [];
  bagRanges(offsets, n).forEach(([start, end], b) => {
    const qb = query.shape.length === 1 ? 0 : b * dim;
    const scores: number[] = [];
    for (let i = start; i < end; i++) {
      let s = 0;
      for (let j = 0; j < dim; j++) s += v[i * dim + j]! * q[qb + j]!;
      scores.push(s / Math.sqrt(dim));
    }
    const max = Math.max(...scores);
    const e = scores.map((s) => Math.exp(s - max));
    const total = e.reduce((x, y) => x + y, 0);
    const row = new Array<number>(dim).fill(0);
    for (let i = start; i < end; i++)
      for (let j = 0; j < dim; j++) row[j]! += (e[i - start]! / total) * v[i * dim + j]!;
    out.push(...row);
  });
  return out;
}

function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-5): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < actual.length; i++) {
    assert.ok(Math.abs(actual[i]! - expected[i]!) <= tol, `element ${i}: ${actual[i]} vs ${expected[i]}`);
  }
}

/** A fixed linear read-out so the loss weighs every output element differently. */
function readout(out: Tensor, seed: number, scale = 1): Tensor {
  const w = Array.from({ length: out.size }, (_, i) => scale * Math.sin(seed + i * 1.7));
  return ops.sum(ops.mul(out, Tensor.from(w, out.shape)));
}

// Five bags of a 7-row table, with an empty bag in the middle and one at the end; dim 6 exercises the SIMD tail.
const ids = new Int32Array([3, 1, 3, 0, 6, 2, 5, 5, 4]);
const offsets = new Int32Array([0, 3, 3, 4, 9]);

describe("embeddingBag", () => {
  for (const mode of ["sum", "mean"] as const) {
    test(`${mode} matches a JS reference, empty bags are zero`, () => {
      const table = leaf([7, 6], 21);
      const out = ops.embeddingBag(table, ids, offsets, mode);
      assert.deepEqual(out.shape, [5, 6]);
      assertClose(out.data, referenceBag(table, ids, offsets, mode === "mean"));
      assert.deepEqual(Array.from(out.data.subarray(6, 12)), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(Array.from(out.data.subarray(24, 30)), [0, 0, 0, 0, 0, 0]);
      endStep();
    });

    for (const sparse of [true, false]) {
      test(`${mode} gradient matches finite differences (${sparse ? "sparse" : "dense"} table)`, () => {
        const table = leaf([7, 6], 22);
        table.sparse = sparse;
        gradCheck(() => readout(ops.embeddingBag(table, ids, offsets, mode), 1), [table], { maxElements: 42 });
        if (sparse) assert.ok(table.sparseGrad && !table.grad);
        else assert.ok(table.grad && !table.sparseGrad);
      });
    }
  }

  test("sparse gradient rows are one per id, scaled by 1/bag length for mean", () => {
    const table = leaf([7, 6], 23);
    table.sparse = true;
    const out = ops.embeddingBag(table, ids, offsets, "mean");
    ops.sum(out).backward();
    const [part] = table.sparseGrad!;
    assert.equal(part!.count, ids.length);
    const rows = table.rt.f32.subarray(part!.rows >> 2, (part!.rows >> 2) + ids.length * 6);
    assert.equal(rows[0], Math.fround(1 / 3)); // bag 0 has three ids
    assert.equal(rows[3 * 6], 1); // bag 2 has one
    assert.equal(rows[8 * 6], Math.fround(1 / 5)); // bag 3 has five
    endStep();
  });

  test("rejects bad ids and offsets", () => {
    const table = leaf([7, 6], 24);
    assert.throws(
      () => ops.embeddingBag(table, new Int32Array([7]), new Int32Array([0])),
      /outside the table's 7 rows/,
    );
    assert.throws(() => ops.embeddingBag(table, ids, new Int32Array([1, 3])), /must start at 0/);
    assert.throws(() => ops.embeddingBag(table, ids, new Int32Array([0, 4, 3])), /offset 3 of bag 2/);
    assert.throws(() => ops.embeddingBag(table, ids, new Int32Array([0, 10])), /offset 10 of bag 1/);
    assert.throws(() => ops.embeddingBag(table, ids, new Int32Array([])), /no bags/);
    endStep();
  });

  test("no ids and no bags gives an empty output", () => {
    const table = leaf([7, 6], 25);
    assert.deepEqual(ops.embeddingBag(table, new Int32Array([]), new Int32Array([])).shape, [0, 6]);
    endStep();
  });
});

describe("attentionPool", () => {
  const n = ids.length;

  test("matches a JS reference for per-bag and shared queries, empty bags are zero", () => {
    const values = leaf([n, 6], 31, 2);
    for (const query of [leaf([5, 6], 32, 2), leaf([6], 33, 2)]) {
      const out = ops.attentionPool(values, offsets, query);
      assert.deepEqual(out.shape, [5, 6]);
      assertClose(out.data, referenceAttention(values, offsets, query));
      assert.deepEqual(Array.from(out.data.subarray(6, 12)), [0, 0, 0, 0, 0, 0]);
      endStep();
    }
  });

  test("a bag of one row returns that row; equal scores give the mean", () => {
    const values = leaf([n, 6], 34);
    const out = ops.attentionPool(values, offsets, Tensor.zeros([6]));
    assertClose(out.data.subarray(12, 18), values.data.subarray(18, 24)); // bag 2 is row 3 alone
    assertClose(
      out.data,
      referenceBag(
        values,
        Int32Array.from({ length: n }, (_, i) => i),
        offsets,
        true,
      ),
    );
    endStep();
  });

  test("stays finite for large scores", () => {
    const values = leaf([n, 6], 35, 100);
    const out = ops.attentionPool(values, offsets, leaf([6], 36, 100));
    assert.ok(out.data.every(Number.isFinite));
    endStep();
  });

  for (const shared of [false, true]) {
    test(`gradients w.r.t. values and a ${shared ? "shared" : "per-bag"} query match finite differences`, () => {
      // Spread-out scores and a large read-out make the softmax term dominate the relative error.
      const values = leaf([n, 6], 41, 2);
      const query = shared ? leaf([6], 42, 2) : leaf([5, 6], 43, 2);
      gradCheck(() => readout(ops.attentionPool(values, offsets, query), 2, 10), [values, query], {
        maxElements: 54,
        eps: 1e-3,
      });
    });
  }

  test("gradient flows only to the query when values are constants", () => {
    const values = leaf([n, 6], 44);
    values.requiresGrad = false;
    const query = leaf([6], 45, 2);
    gradCheck(() => readout(ops.attentionPool(values, offsets, query), 3), [query]);
    assert.equal(values.grad, null);
  });

  test("DIN-style target attention: sparse table gets gradients through embedding lookups", () => {
    const items = leaf([7, 6], 51, 1.5);
    items.sparse = true;
    const targets = new Int32Array([2, 0, 4, 1, 6]);
    gradCheck(
      () => readout(ops.attentionPool(ops.embedding(items, ids), offsets, ops.embedding(items, targets)), 4),
      [items],
      { maxElements: 42 },
    );
    assert.ok(items.sparseGrad && items.sparseGrad.length === 2);
    assert.ok(denseGrad(items).some((v) => v !== 0));
  });

  test("rejects a query of the wrong shape", () => {
    const values = leaf([n, 6], 46);
    assert.throws(() => ops.attentionPool(values, offsets, leaf([4, 6], 47)), /query must be \[6\] or \[5, 6\]/);
    assert.throws(() => ops.attentionPool(values, offsets, leaf([5], 48)), /attentionPool/);
    endStep();
  });
});
