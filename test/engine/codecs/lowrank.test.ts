import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { lowRank, lowRankBytes, lowRankParams, reconstruct } from "../../../src/engine/index.js";
import { Rng } from "../../../src/engine/random.js";

function randomTable(rows: number, cols: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  const values = new Float32Array(rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = rng.normal();
  return values;
}

/** `count` orthonormal vectors of length n (Gram–Schmidt on Gaussian vectors), as columns of [n, count]. */
function orthonormal(n: number, count: number, seed: number): Float64Array {
  const rng = new Rng(seed);
  const q = new Float64Array(n * count);
  for (let c = 0; c < count; c++) {
    const v = Array.from({ length: n }, () => rng.normal());
    // Two passes keep the columns orthogonal to rounding precision.
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < c; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += v[i]! * q[i * count + p]!;
        for (let i = 0; i < n; i++) v[i]! -= dot * q[i * count + p]!;
      }
    }
    const norm = Math.hypot(...v);
    for (let i = 0; i < n; i++) q[i * count + c] = v[i]! / norm;
  }
  return q;
}

/** U·diag(s)·Vᵀ for orthonormal U [rows, m] and V [cols, m]: a table whose singular values are s. */
function withSingularValues(rows: number, cols: number, s: readonly number[], seed: number): Float32Array {
  const m = s.length;
  const u = orthonormal(rows, m, seed);
  const v = orthonormal(cols, m, seed + 1);
  const values = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < cols; j++) {
      let sum = 0;
      for (let k = 0; k < m; k++) sum += u[r * m + k]! * s[k]! * v[j * m + k]!;
      values[r * cols + j] = sum;
    }
  }
  return values;
}

function squaredError(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += (a[i]! - b[i]!) ** 2;
  return sum;
}

function squaredNorm(a: Float32Array): number {
  let sum = 0;
  for (const x of a) sum += x * x;
  return sum;
}

describe("low-rank factorisation", () => {
  test("a table of true rank k is reconstructed exactly at rank k", () => {
    const rows = 60;
    const cols = 24;
    const k = 5;
    const p = randomTable(rows, k, 1);
    const q = randomTable(k, cols, 2);
    const values = new Float32Array(rows * cols);
    for (let r = 0; r < rows; r++) {
      for (let j = 0; j < cols; j++) {
        let sum = 0;
        for (let i = 0; i < k; i++) sum += p[r * k + i]! * q[i * cols + j]!;
        values[r * cols + j] = sum;
      }
    }
    const lr = lowRank(values, rows, cols, k);
    assert.equal(lr.rank, k);
    assert.equal(lr.left.length, rows * k);
    assert.equal(lr.right.length, k * cols);
    assert.ok(squaredError(reconstruct(lr), values) <= 1e-10 * squaredNorm(values));
  });

  test("singular values and error match a table built with known singular values", () => {
    const s = [9, 7, 5, 4, 2.5, 1.5, 1, 0.5, 0.25, 0.1];
    const rows = 40;
    const cols = 16;
    const values = withSingularValues(rows, cols, s, 3);
    for (const k of [1, 3, 6, 10]) {
      const lr = lowRank(values, rows, cols, k);
      for (let i = 0; i < k; i++) assert.ok(Math.abs(lr.singularValues[i]! - s[i]!) < 1e-4, `σ${i} at rank ${k}`);
      // Eckart–Young: the squared error of the best rank-k approximation is the tail energy.
      const tail = s.slice(k).reduce((sum, x) => sum + x * x, 0);
      const error = squaredError(reconstruct(lr), values);
      assert.ok(Math.abs(error - tail) <= 1e-4 * (1 + tail), `rank ${k}: error ${error}, tail ${tail}`);
    }
  });

  test("on a random table the leading singular value matches power iteration and the error the tail", () => {
    const rows = 50;
    const cols = 30;
    const values = randomTable(rows, cols, 4);
    // Independent estimate of σ1: power iteration on AᵀA.
    let x = new Float64Array(cols).fill(1);
    let sigma = 0;
    for (let it = 0; it < 2000; it++) {
      const ax = new Float64Array(rows);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) ax[r]! += values[r * cols + j]! * x[j]!;
      const atax = new Float64Array(cols);
      for (let r = 0; r < rows; r++) for (let j = 0; j < cols; j++) atax[j]! += values[r * cols + j]! * ax[r]!;
      const norm = Math.hypot(...atax);
      sigma = Math.sqrt(norm);
      x = atax.map((v) => v / norm);
    }
    const full = lowRank(values, rows, cols, cols);
    assert.ok(Math.abs(full.singularValues[0]! - sigma) < 1e-6 * sigma, `${full.singularValues[0]} vs ${sigma}`);
    // Σσ² is the squared Frobenius norm, and each rank's error is the energy of the values it drops.
    const energy = full.singularValues.reduce((sum, v) => sum + v * v, 0);
    assert.ok(Math.abs(energy - squaredNorm(values)) < 1e-6 * energy);
    const lr = lowRank(values, rows, cols, 8);
    const tail = full.singularValues.slice(8).reduce((sum, v) => sum + v * v, 0);
    assert.ok(Math.abs(squaredError(reconstruct(lr), values) - tail) < 1e-5 * energy);
  });

  test("error falls as the rank grows and the right factor has orthonormal rows", () => {
    const rows = 40;
    const cols = 12;
    const values = randomTable(rows, cols, 5);
    let previous = Infinity;
    for (let k = 1; k <= cols; k++) {
      const lr = lowRank(values, rows, cols, k);
      const error = squaredError(reconstruct(lr), values);
      assert.ok(error < previous, `rank ${k}: ${error} ≥ ${previous}`);
      previous = error;
      for (let a = 0; a < k; a++) {
        for (let b = 0; b < k; b++) {
          let dot = 0;
          for (let j = 0; j < cols; j++) dot += lr.right[a * cols + j]! * lr.right[b * cols + j]!;
          assert.ok(Math.abs(dot - (a === b ? 1 : 0)) < 1e-5);
        }
      }
    }
    assert.ok(previous < 1e-8 * squaredNorm(values));
  });

  test("parameter and byte counts", () => {
    const lr = lowRank(randomTable(100, 20, 6), 100, 20, 4);
    assert.equal(lowRankParams(100, 20, 4), 480);
    assert.equal(lowRankBytes(lr), 480 * 4);
  });

  test("bad shapes and ranks are refused", () => {
    const values = randomTable(4, 3, 7);
    assert.throws(() => lowRank(values, 4, 4, 1), /12 values for shape \[4, 4\]/);
    assert.throws(() => lowRank(values, 0, 3, 1), /invalid shape/);
    assert.throws(() => lowRank(values, 4.5, 3, 1), /invalid shape/);
    assert.throws(() => lowRank(values, 4, 3, 0), /rank must be an integer in \[1, 3\]/);
    assert.throws(() => lowRank(values, 4, 3, 4), /rank must be an integer in \[1, 3\]/);
    assert.throws(() => lowRank(values, 4, 3, 1.5), /rank must be an integer/);
    values[5] = NaN;
    assert.throws(() => lowRank(values, 4, 3, 1), /non-finite value NaN in row 1/);
  });
});
