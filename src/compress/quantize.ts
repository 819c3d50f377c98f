/**
 * Post-training quantisation of row-major float tables (embedding tables, item vectors, dense weights):
 * int8 with one symmetric scale per row, scored directly in int8 by a SIMD kernel, and fp16 storage.
 */
import { runtime } from "../engine/runtime.js";
import { endStep } from "../engine/tensor.js";
import { quantizeInt8, type Int8Matrix } from "../engine/int8.js";

export { toFloat16, fromFloat16 } from "../engine/float16.js";
export {
  quantizeInt8,
  dequantizeInt8,
  storedRowsPerScale,
  type Int8Matrix,
  type QuantizeOptions,
} from "../engine/int8.js";

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
  const scales = rt.scratchF32(rowScales(q));
  const out = rt.scratch.alloc(q.rows * 4);
  rt.kernels.int8MatVec!(table, xq, scales, x.scales[0]!, q.rows, q.dim, out);
  const scores = rt.f32.slice(out >>> 2, (out >>> 2) + q.rows);
  endStep();
  return scores;
}

function asBytes(values: Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** One scale per row (the kernel's layout), expanding shared group scales. */
function rowScales(q: Int8Matrix): Float32Array {
  if (q.rowsPerScale === 1) return q.scales;
  return Float32Array.from({ length: q.rows }, (_, r) => q.scales[Math.floor(r / q.rowsPerScale)]!);
}
