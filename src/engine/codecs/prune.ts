/**
 * Magnitude pruning of row-major float tables: unstructured (single weights) and structured (whole
 * columns — embedding dimensions, input neurons — or whole rows — output neurons). Pruned tables are
 * stored compactly by the parameter file's sparse layout (a bitmap and the non-zeros, docs/FORMAT.md).
 */

/** What structured pruning kept: the original indices (ascending) and the compacted table. */
export interface StructuredPrune {
  readonly kept: Int32Array;
  readonly values: Float32Array;
  readonly rows: number;
  readonly cols: number;
}

/**
 * Zero the round(sparsity · rows · cols) weights of smallest magnitude, on a copy. Ties are broken
 * by position (the earlier weight is pruned first), so the result is deterministic. Weights that were
 * already zero count among the pruned ones; the result has more zeros only if the input had more.
 */
export function pruneMagnitude(values: Float32Array, rows: number, cols: number, sparsity: number): Float32Array {
  checkShape("pruneMagnitude", values, rows, cols);
  if (!(sparsity >= 0 && sparsity <= 1)) {
    throw new RangeError(`pruneMagnitude: sparsity must be in [0, 1], got ${sparsity}`);
  }
  const n = values.length;
  const pruned = Math.round(sparsity * n);
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => Math.abs(values[a]!) - Math.abs(values[b]!) || a - b);
  const out = values.slice();
  for (let i = 0; i < pruned; i++) out[order[i]!] = 0;
  return out;
}

/**
 * Keep the `keep` columns with the largest L2 norms (ties: the earlier column), in their original
 * order, and drop the rest: the table becomes [rows, keep].
 */
export function pruneColumns(values: Float32Array, rows: number, cols: number, keep: number): StructuredPrune {
  checkShape("pruneColumns", values, rows, cols);
  checkKeep("pruneColumns", keep, cols, "columns");
  const norms = new Float64Array(cols);
  for (let i = 0; i < values.length; i++) norms[i % cols]! += values[i]! * values[i]!;
  const kept = largest(norms, keep);
  const out = new Float32Array(rows * keep);
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < keep; k++) out[r * keep + k] = values[r * cols + kept[k]!]!;
  }
  return { kept, values: out, rows, cols: keep };
}

/**
 * Keep the `keep` rows with the largest L2 norms (ties: the earlier row), in their original order,
 * and drop the rest: the table becomes [keep, cols].
 */
export function pruneRows(values: Float32Array, rows: number, cols: number, keep: number): StructuredPrune {
  checkShape("pruneRows", values, rows, cols);
  checkKeep("pruneRows", keep, rows, "rows");
  const norms = new Float64Array(rows);
  for (let i = 0; i < values.length; i++) norms[Math.floor(i / cols)]! += values[i]! * values[i]!;
  const kept = largest(norms, keep);
  const out = new Float32Array(keep * cols);
  for (let k = 0; k < keep; k++) out.set(values.subarray(kept[k]! * cols, (kept[k]! + 1) * cols), k * cols);
  return { kept, values: out, rows: keep, cols };
}

/** Indices of the `keep` largest scores (ties: the lower index), ascending. */
function largest(scores: Float64Array, keep: number): Int32Array {
  const order = Array.from(scores.keys()).sort((a, b) => scores[b]! - scores[a]! || a - b);
  return Int32Array.from(order.slice(0, keep)).sort();
}

function checkShape(name: string, values: Float32Array, rows: number, cols: number): void {
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || rows < 0 || cols < 0) {
    throw new RangeError(`${name}: invalid shape [${rows}, ${cols}]`);
  }
  if (values.length !== rows * cols) {
    throw new RangeError(`${name}: ${values.length} values for shape [${rows}, ${cols}]`);
  }
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i]!)) throw new RangeError(`${name}: non-finite value ${values[i]} at ${i}`);
  }
}

function checkKeep(name: string, keep: number, of: number, what: string): void {
  if (!Number.isInteger(keep) || keep < 0 || keep > of) {
    throw new RangeError(`${name}: keep must be an integer in [0, ${of}] ${what}, got ${keep}`);
  }
}
