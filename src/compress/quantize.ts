/**
 * Post-training quantisation of row-major float tables (embedding tables, item vectors, dense weights):
 * int8 with one symmetric scale per row, scored directly in int8 by a SIMD kernel, and fp16 storage.
 */
import { runtime } from "../engine/runtime.js";
import { endStep } from "../engine/tensor.js";

export { toFloat16, fromFloat16 } from "../engine/float16.js";

/** An int8 table [rows, dim]: row r stands for data[r, :] · scales[r]. */
export interface Int8Matrix {
  readonly data: Int8Array;
  readonly scales: Float32Array;
  readonly rows: number;
  readonly dim: number;
}

/** Symmetric int8 range: -128 is left out so that negating a row never overflows. */
const QMAX = 127;

/**
 * Quantise a row-major [rows, dim] table to int8 with per-row symmetric scales (max|row| / 127), so each
 * value is off by at most half its row's scale. An all-zero row gets scale 0 and decodes to exact zeros.
 */
export function quantizeInt8(values: Float32Array, rows: number, dim: number): Int8Matrix {
  if (!Number.isInteger(rows) || !Number.isInteger(dim) || rows < 0 || dim < 0) {
    throw new RangeError(`quantizeInt8: invalid shape [${rows}, ${dim}]`);
  }
  if (values.length !== rows * dim) {
    throw new RangeError(`quantizeInt8: ${values.length} values for shape [${rows}, ${dim}]`);
  }
  const data = new Int8Array(rows * dim);
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    const start = r * dim;
    let max = 0;
    for (let k = start; k < start + dim; k++) {
      const v = values[k]!;
      if (!Number.isFinite(v)) throw new RangeError(`quantizeInt8: non-finite value ${v} in row ${r}`);
      max = Math.max(max, Math.abs(v));
    }
    if (max === 0) continue;
    // Round with the stored (float32) scale, so the error bound holds for what dequantisation sees.
    const scale = Math.fround(max / QMAX);
    scales[r] = scale;
    for (let k = start; k < start + dim; k++) {
      data[k] = Math.max(-QMAX, Math.min(QMAX, Math.round(values[k]! / scale)));
    }
  }
  return { data, scales, rows, dim };
}

/** The float table an int8 table stands for. */
export function dequantizeInt8(q: Int8Matrix): Float32Array {
  const values = new Float32Array(q.rows * q.dim);
  for (let r = 0; r < q.rows; r++) {
    const scale = q.scales[r]!;
    for (let k = r * q.dim; k < (r + 1) * q.dim; k++) values[k] = q.data[k]! * scale;
  }
  return values;
}

/**
 * Scores of every row of an int8 table against a float query: the query is quantised to int8 as well
 * (one symmetric scale) and the WebAssembly kernel sums int8 products in i32 before applying both
 * scales. Like TwoTowerScorer.scoreAll, this ends the current scratch step.
 */
export function int8MatVec(q: Int8Matrix, query: Float32Array): Float32Array {
  if (query.length !== q.dim) {
    throw new RangeError(`int8MatVec: query has ${query.length} values for a table of dim ${q.dim}`);
  }
  const x = quantizeInt8(query, 1, q.dim);
  const rt = runtime();
  const table = rt.scratch.alloc(q.data.length);
  rt.u8.set(asBytes(q.data), table);
  const xq = rt.scratch.alloc(q.dim);
  rt.u8.set(asBytes(x.data), xq);
  const scales = rt.scratchF32(q.scales);
  const out = rt.scratch.alloc(q.rows * 4);
  rt.kernels.int8MatVec!(table, xq, scales, x.scales[0]!, q.rows, q.dim, out);
  const scores = rt.f32.slice(out >>> 2, (out >>> 2) + q.rows);
  endStep();
  return scores;
}

function asBytes(values: Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}
