/**
 * Symmetric int8 quantisation of row-major float tables, shared by int8 parameter files (../serialize.ts)
 * and int8 scoring (./int8-table.ts). Every group of `rowsPerScale` consecutive rows shares one scale
 * (max|group| / 127); one row per scale is the most precise, and grouping narrow rows keeps the scales'
 * share of the bytes small (a 16-wide table with one float16 scale per row costs 28% of float32, with one
 * per two rows 27%).
 */
import { float16Bits, float16Value } from "./float16.js";

/** An int8 table [rows, dim]: row r stands for data[r, :] · scales[floor(r / rowsPerScale)]. */
export interface Int8Matrix {
  readonly data: Int8Array;
  readonly scales: Float32Array;
  readonly rows: number;
  readonly dim: number;
  readonly rowsPerScale: number;
}

export interface QuantizeOptions {
  /** Consecutive rows sharing one scale (default 1). */
  rowsPerScale?: number;
  /** Round every scale up to a float16 value, so a file can store it in 2 bytes without changing the codes. */
  halfScales?: boolean;
}

/** Symmetric int8 range: -128 is left out so that negating a row never overflows. */
export const INT8_MAX = 127;

/** Values per scale below which a stored table groups rows: 32, like the GGML Q8_0 blocks (8.5 bits a value). */
export const MIN_VALUES_PER_SCALE = 32;

/** The rows per scale an int8 parameter file uses for rows of `dim` values: enough rows for 32 values. */
export function storedRowsPerScale(dim: number): number {
  return Math.max(1, Math.ceil(MIN_VALUES_PER_SCALE / Math.max(1, dim)));
}

/**
 * Quantise a row-major [rows, dim] table to int8, each value off by at most half its group's scale. An
 * all-zero group gets scale 0 and decodes to exact zeros.
 */
export function quantizeInt8(
  values: Float32Array,
  rows: number,
  dim: number,
  options: QuantizeOptions = {},
): Int8Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(dim) || rows < 0 || dim < 0) {
    throw new RangeError(`quantizeInt8: invalid shape [${rows}, ${dim}]`);
  }
  if (values.length !== rows * dim) {
    throw new RangeError(`quantizeInt8: ${values.length} values for shape [${rows}, ${dim}]`);
  }
  const rowsPerScale = options.rowsPerScale ?? 1;
  if (!Number.isInteger(rowsPerScale) || rowsPerScale < 1) {
    throw new RangeError(`quantizeInt8: rowsPerScale must be a positive integer, got ${rowsPerScale}`);
  }
  const groups = Math.ceil(rows / rowsPerScale);
  const data = new Int8Array(rows * dim);
  const scales = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    const start = g * rowsPerScale * dim;
    const end = Math.min(rows, (g + 1) * rowsPerScale) * dim;
    let max = 0;
    for (let k = start; k < end; k++) {
      const v = values[k]!;
      if (!Number.isFinite(v)) {
        throw new RangeError(`quantizeInt8: non-finite value ${v} in row ${Math.floor(k / dim)}`);
      }
      max = Math.max(max, Math.abs(v));
    }
    if (max === 0) continue;
    // Quantise with the scale as stored, so the error bound holds for what dequantisation sees.
    const scale = options.halfScales ? halfAtLeast(max / INT8_MAX) : Math.fround(max / INT8_MAX);
    scales[g] = scale;
    for (let k = start; k < end; k++) {
      data[k] = Math.max(-INT8_MAX, Math.min(INT8_MAX, Math.round(values[k]! / scale)));
    }
  }
  return { data, scales, rows, dim, rowsPerScale };
}

/** The float table an int8 table stands for. */
export function dequantizeInt8(q: Int8Matrix): Float32Array {
  const values = new Float32Array(q.rows * q.dim);
  for (let r = 0; r < q.rows; r++) {
    const scale = q.scales[Math.floor(r / q.rowsPerScale)]!;
    for (let k = r * q.dim; k < (r + 1) * q.dim; k++) values[k] = q.data[k]! * scale;
  }
  return values;
}

/** The smallest float16 value ≥ x (x > 0), so that max / scale ≤ 127 still holds after rounding the scale. */
function halfAtLeast(x: number): number {
  let bits = float16Bits(x);
  if (float16Value(bits) < x) bits++;
  const value = float16Value(bits);
  if (!Number.isFinite(value)) {
    throw new RangeError(`quantizeInt8: a scale of ${x} does not fit a float16 scale (values up to ±8.3e6)`);
  }
  return value;
}
