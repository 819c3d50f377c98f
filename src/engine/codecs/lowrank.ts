/**
 * Low-rank factorisation of row-major float tables: the truncated SVD A ≈ (U·Σ)·Vᵀ, stored as two
 * thin factors. The right singular vectors come from a Jacobi eigendecomposition of the cols × cols
 * Gram matrix AᵀA (in float64), so the cost is O(rows·cols² + cols³) — meant for embedding tables and
 * dense layers with at most a few hundred columns, run once per model.
 */
import { factorProduct } from "../serialize.js";

/** A rank-k factorisation [rows, cols] ≈ left [rows, rank] · right [rank, cols]. */
export interface LowRank {
  /** U·Σ, row-major [rows, rank]. */
  readonly left: Float32Array;
  /** Vᵀ, row-major [rank, cols]; its rows are orthonormal. */
  readonly right: Float32Array;
  readonly rows: number;
  readonly cols: number;
  readonly rank: number;
  /** The top `rank` singular values of the original table, descending. */
  readonly singularValues: Float64Array;
}

/** Jacobi stops once the off-diagonal mass is this small relative to the whole matrix. */
const JACOBI_TOLERANCE = 1e-14;
const JACOBI_MAX_SWEEPS = 100;

/**
 * The best rank-k approximation of a row-major [rows, cols] table in the Frobenius norm (Eckart–Young):
 * left = A·V_k and right = V_kᵀ, so reconstruct() projects each row onto the top-k right singular
 * subspace and the squared error is the sum of the discarded squared singular values.
 */
export function lowRank(values: Float32Array, rows: number, cols: number, rank: number): LowRank {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 1 || cols < 1) {
    throw new RangeError(`lowRank: invalid shape [${rows}, ${cols}]`);
  }
  if (values.length !== rows * cols) {
    throw new RangeError(`lowRank: ${values.length} values for shape [${rows}, ${cols}]`);
  }
  if (!Number.isInteger(rank) || rank < 1 || rank > Math.min(rows, cols)) {
    throw new RangeError(`lowRank: rank must be an integer in [1, ${Math.min(rows, cols)}], got ${rank}`);
  }
  const gram = new Float64Array(cols * cols);
  for (let r = 0; r < rows; r++) {
    const row = r * cols;
    for (let i = 0; i < cols; i++) {
      const a = values[row + i]!;
      if (!Number.isFinite(a)) throw new RangeError(`lowRank: non-finite value ${a} in row ${r}`);
      if (a === 0) continue;
      for (let j = i; j < cols; j++) gram[i * cols + j]! += a * values[row + j]!;
    }
  }
  for (let i = 0; i < cols; i++) for (let j = 0; j < i; j++) gram[i * cols + j] = gram[j * cols + i]!;

  const vectors = jacobiEigen(gram, cols);
  const order = Array.from({ length: cols }, (_, i) => i).sort((a, b) => gram[b * cols + b]! - gram[a * cols + a]!);
  const top = order.slice(0, rank);

  const right = new Float32Array(rank * cols);
  const singularValues = new Float64Array(rank);
  top.forEach((e, k) => {
    // Rounding can leave a tiny negative eigenvalue where the true one is zero.
    singularValues[k] = Math.sqrt(Math.max(0, gram[e * cols + e]!));
    for (let j = 0; j < cols; j++) right[k * cols + j] = vectors[j * cols + e]!;
  });

  // left = A·V_k from the float64 eigenvectors, not the rounded float32 copy in `right`.
  const left = new Float32Array(rows * rank);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < rank; k++) {
      const e = top[k]!;
      let sum = 0;
      for (let j = 0; j < cols; j++) sum += values[r * cols + j]! * vectors[j * cols + e]!;
      left[r * rank + k] = sum;
    }
  }
  return { left, right, rows, cols, rank, singularValues };
}

/** The [rows, cols] table a factorisation stands for. */
export function reconstruct(lr: LowRank): Float32Array {
  return factorProduct(lr, lr.rows, lr.cols);
}

/** Parameters in a rank-k factorisation of a [rows, cols] table (the dense table has rows·cols). */
export function lowRankParams(rows: number, cols: number, rank: number): number {
  return rank * (rows + cols);
}

/** Bytes of both float32 factors. */
export function lowRankBytes(lr: LowRank): number {
  return lr.left.byteLength + lr.right.byteLength;
}

/**
 * Cyclic Jacobi on a symmetric n × n matrix, in place: on return its diagonal holds the eigenvalues,
 * and the returned row-major matrix holds the matching orthonormal eigenvectors as columns.
 */
function jacobiEigen(a: Float64Array, n: number): Float64Array {
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < a.length; i++) total += a[i]! * a[i]!;
  for (let sweep = 0; sweep < JACOBI_MAX_SWEEPS; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += 2 * a[p * n + q]! * a[p * n + q]!;
    if (off <= JACOBI_TOLERANCE * JACOBI_TOLERANCE * total) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = a[p * n + q]!;
        if (apq === 0) continue;
        // The rotation angle that zeroes a[p, q], in the numerically stable form (Golub & Van Loan 8.5.2).
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  return v;
}
