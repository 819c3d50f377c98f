import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { pruneColumns, pruneMagnitude, pruneRows } from "../../../src/engine/index.js";
import { Rng } from "../../../src/engine/random.js";

function randomTable(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return values;
}

function zeros(values: Float32Array): number {
  return values.reduce((n, v) => n + (v === 0 ? 1 : 0), 0);
}

describe("unstructured magnitude pruning", () => {
  test("the requested sparsity is hit exactly", () => {
    const values = randomTable(13, 17, 1);
    for (const sparsity of [0.1, 0.25, 0.5, 0.57, 0.9, 0.999]) {
      const pruned = pruneMagnitude(values, 13, 17, sparsity);
      assert.equal(zeros(pruned), Math.round(sparsity * 221), `sparsity ${sparsity}`);
    }
  });

  test("the kept weights are the largest by magnitude and unchanged", () => {
    const values = randomTable(20, 10, 2);
    const pruned = pruneMagnitude(values, 20, 10, 0.6);
    let largestPruned = 0;
    let smallestKept = Infinity;
    for (let i = 0; i < values.length; i++) {
      if (pruned[i] === 0) largestPruned = Math.max(largestPruned, Math.abs(values[i]!));
      else {
        assert.equal(pruned[i], values[i]);
        smallestKept = Math.min(smallestKept, Math.abs(values[i]!));
      }
    }
    assert.ok(largestPruned <= smallestKept);
    assert.equal(values.length - zeros(pruned), 80);
  });

  test("ties are broken by position", () => {
    const values = Float32Array.from([1, -2, 2, 1, -1, 3]);
    assert.deepEqual(Array.from(pruneMagnitude(values, 2, 3, 2 / 6)), [0, -2, 2, 0, -1, 3]);
    assert.deepEqual(Array.from(pruneMagnitude(values, 2, 3, 4 / 6)), [0, 0, 2, 0, 0, 3]);
  });

  test("sparsity 0 keeps everything and sparsity 1 zeroes everything", () => {
    const values = randomTable(5, 7, 3);
    const kept = pruneMagnitude(values, 5, 7, 0);
    assert.deepEqual(kept, values);
    assert.notEqual(kept, values);
    assert.equal(zeros(pruneMagnitude(values, 5, 7, 1)), 35);
  });

  test("bad arguments are refused", () => {
    const values = randomTable(3, 4, 5);
    assert.throws(() => pruneMagnitude(values, 3, 4, -0.1), /sparsity must be in \[0, 1\], got -0.1/);
    assert.throws(() => pruneMagnitude(values, 3, 4, 1.5), /sparsity must be in \[0, 1\]/);
    assert.throws(() => pruneMagnitude(values, 3, 4, NaN), /sparsity must be in \[0, 1\], got NaN/);
    assert.throws(() => pruneMagnitude(values, 4, 4, 0.5), /12 values for shape \[4, 4\]/);
    assert.throws(() => pruneMagnitude(values, -3, -4, 0.5), /invalid shape/);
    values[2] = Infinity;
    assert.throws(() => pruneMagnitude(values, 3, 4, 0.5), /non-finite value Infinity at 2/);
  });
});

describe("structured pruning", () => {
  // Column j of row r is (j + 1) · sign, so column norms grow with j, except column 2 which is zeroed.
  const rows = 4;
  const cols = 6;
  const table = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) table[r * cols + j] = j === 2 ? 0 : (j + 1) * (r % 2 ? -1 : 1);
  }

  test("pruneColumns keeps the highest-norm columns in their original order", () => {
    const result = pruneColumns(table, rows, cols, 3);
    assert.deepEqual(Array.from(result.kept), [3, 4, 5]);
    assert.equal(result.rows, rows);
    assert.equal(result.cols, 3);
    for (let r = 0; r < rows; r++) {
      assert.deepEqual(
        Array.from(result.values.subarray(r * 3, r * 3 + 3)),
        [3, 4, 5].map((j) => table[r * cols + j]),
      );
    }
    assert.deepEqual(Array.from(pruneColumns(table, rows, cols, 5).kept), [0, 1, 3, 4, 5]);
  });

  test("pruneRows keeps the highest-norm rows in their original order", () => {
    const values = randomTable(10, 8, 6);
    const norms = Array.from({ length: 10 }, (_, r) => Math.hypot(...values.subarray(r * 8, r * 8 + 8)));
    const expected = norms
      .map((n, r) => [n, r] as const)
      .sort((a, b) => b[0] - a[0])
      .slice(0, 4)
      .map(([, r]) => r)
      .sort((a, b) => a - b);
    const result = pruneRows(values, 10, 8, 4);
    assert.deepEqual(Array.from(result.kept), expected);
    assert.equal(result.rows, 4);
    assert.equal(result.cols, 8);
    expected.forEach((r, k) =>
      assert.deepEqual(result.values.subarray(k * 8, k * 8 + 8), values.subarray(r * 8, r * 8 + 8)),
    );
  });

  test("ties keep the earlier index; keeping all or none", () => {
    const equal = new Float32Array([1, -1, 1, 1, 1, -1]);
    assert.deepEqual(Array.from(pruneColumns(equal, 2, 3, 2).kept), [0, 1]);
    assert.deepEqual(Array.from(pruneRows(equal, 2, 3, 1).kept), [0]);
    const all = pruneColumns(table, rows, cols, cols);
    assert.deepEqual(all.values, table);
    const none = pruneRows(table, rows, cols, 0);
    assert.equal(none.kept.length, 0);
    assert.equal(none.values.length, 0);
  });

  test("bad arguments are refused", () => {
    assert.throws(() => pruneColumns(table, rows, cols, 7), /keep must be an integer in \[0, 6\] columns, got 7/);
    assert.throws(() => pruneRows(table, rows, cols, -1), /keep must be an integer in \[0, 4\] rows, got -1/);
    assert.throws(() => pruneRows(table, rows, cols, 1.5), /keep must be an integer/);
    assert.throws(() => pruneColumns(table, rows, 5, 1), /24 values for shape \[4, 5\]/);
  });
});
