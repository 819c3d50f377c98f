/**
 * Post-training quantisation of row-major float tables (embedding tables, item vectors, dense weights):
 * int8 with one symmetric scale per row, scored directly in int8 by a SIMD kernel, and fp16 storage.
 */
import { runtime, type Runtime } from "../runtime.js";
import { endStep } from "../tensor.js";
import { quantizeInt8, type Int8Matrix } from "./int8.js";

export { toFloat16, fromFloat16 } from "./float16.js";
export { quantizeInt8, dequantizeInt8, storedRowsPerScale, type Int8Matrix, type QuantizeOptions } from "./int8.js";

/**
 * An int8 table kept resident in WebAssembly memory for scoring: the codes and one scale per row are
 * copied to the heap once, and every query runs the int8 kernel over them in place. A float query is
 * quantised to int8 as well (one symmetric scale); the kernel sums int8 products exactly in i32 before
 * applying both scales. Scoring uses the scratch arena and ends the current scratch step. Release the
 * heap memory with dispose().
 */
export class Int8Table {
  readonly rows: number;
  readonly dim: number;
  /** Rows per scale of the source matrix, kept so toMatrix() gives back its scales. */
  readonly rowsPerScale: number;
  private readonly rt: Runtime;
  private readonly dataPtr: number;
  private readonly scalesPtr: number;
  private disposed = false;

  constructor(q: Int8Matrix) {
    if (q.data.length !== q.rows * q.dim || q.scales.length !== Math.ceil(q.rows / q.rowsPerScale)) {
      throw new RangeError(
        `Int8Table: ${q.data.length} codes and ${q.scales.length} scales do not fit [${q.rows}, ${q.dim}] ` +
          `with ${q.rowsPerScale} rows per scale`,
      );
    }
    this.rows = q.rows;
    this.dim = q.dim;
    this.rowsPerScale = q.rowsPerScale;
    this.rt = runtime();
    this.dataPtr = this.rt.alloc(q.data.length);
    this.rt.u8.set(asBytes(q.data), this.dataPtr);
    this.scalesPtr = this.rt.alloc(q.rows * 4);
    this.rt.f32.set(rowScales(q), this.scalesPtr >>> 2);
  }

  /** Scores of every row against `query` [dim]. */
  scoreAll(query: Float32Array): Float32Array {
    const { x, xScale } = this.quantizeQuery(query);
    const out = this.rt.scratch.alloc(this.rows * 4);
    this.rt.kernels.int8MatVec(this.dataPtr, x, this.scalesPtr, xScale, this.rows, this.dim, out);
    return this.takeScores(out, this.rows);
  }

  /** Scores of the given rows (any order, repeats allowed) against `query` [dim]: scoreAll's values at `rows`. */
  scoreRows(query: Float32Array, rows: Int32Array): Float32Array {
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      if (!(r >= 0 && r < this.rows)) {
        throw new RangeError(`Int8Table: row ${r} at position ${k} is outside the table's ${this.rows} rows`);
      }
    }
    const { x, xScale } = this.quantizeQuery(query);
    const rowsPtr = this.rt.scratchI32(rows);
    const out = this.rt.scratch.alloc(rows.length * 4);
    this.rt.kernels.int8MatVecRows(this.dataPtr, rowsPtr, x, this.scalesPtr, xScale, rows.length, this.dim, out);
    return this.takeScores(out, rows.length);
  }

  /** A copy of the table as an Int8Matrix (with the source's rows per scale). */
  toMatrix(): Int8Matrix {
    this.checkLive();
    const data = new Int8Array(this.rt.memory.buffer, this.dataPtr, this.rows * this.dim).slice();
    const perRow = this.rt.f32.subarray(this.scalesPtr >>> 2, (this.scalesPtr >>> 2) + this.rows);
    const groups = Math.ceil(this.rows / this.rowsPerScale);
    const scales = Float32Array.from({ length: groups }, (_, g) => perRow[g * this.rowsPerScale]!);
    return { data, scales, rows: this.rows, dim: this.dim, rowsPerScale: this.rowsPerScale };
  }

  /** Release the heap memory; the table cannot be used afterwards (a second call does nothing). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.rt.free(this.dataPtr, this.rows * this.dim);
    this.rt.free(this.scalesPtr, this.rows * 4);
  }

  private checkLive(): void {
    if (this.disposed) throw new Error("Int8Table: used after dispose()");
  }

  /** The query's int8 codes in scratch memory, and its scale. */
  private quantizeQuery(query: Float32Array): { x: number; xScale: number } {
    this.checkLive();
    if (query.length !== this.dim) {
      throw new RangeError(`Int8Table: query has ${query.length} values for a table of dim ${this.dim}`);
    }
    const q = quantizeInt8(query, 1, this.dim);
    const x = this.rt.scratch.alloc(this.dim);
    this.rt.u8.set(asBytes(q.data), x);
    return { x, xScale: q.scales[0]! };
  }

  private takeScores(out: number, count: number): Float32Array {
    const scores = this.rt.f32.slice(out >>> 2, (out >>> 2) + count);
    endStep();
    return scores;
  }
}

function asBytes(values: Int8Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
}

/** One scale per row (the kernel's layout), expanding shared group scales. */
function rowScales(q: Int8Matrix): Float32Array {
  if (q.rowsPerScale === 1) return q.scales;
  return Float32Array.from({ length: q.rows }, (_, r) => q.scales[Math.floor(r / q.rowsPerScale)]!);
}
