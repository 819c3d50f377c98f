/**
 * Post-training quantisation of row-major float tables (embedding tables, item vectors, dense weights):
 * int8 with one symmetric scale per row, scored directly in int8 by a SIMD kernel, and fp16 storage.
 */
import { HeapBlocks, RowStore, writeQueryCodes } from "../retrieval-store.js";
import { endStep } from "../tensor.js";
import type { Int8Matrix } from "./int8.js";

export { toFloat16, fromFloat16 } from "./float16.js";
export { quantizeInt8, dequantizeInt8, storedRowsPerScale, type Int8Matrix, type QuantizeOptions } from "./int8.js";

/**
 * An int8 table kept resident in WebAssembly memory for scoring: the codes and one scale per row are
 * copied to the heap once (the row store of an int8 ExactIndex), and every query runs the int8 kernel over
 * them in place. A float query is quantised to int8 as well (one symmetric scale); the kernel sums int8
 * products exactly in i32 before applying both scales. Scoring uses the scratch arena and ends the current
 * scratch step. Release the heap memory with dispose().
 */
export class Int8Table {
  readonly rows: number;
  readonly dim: number;
  /** Rows per scale of the source matrix, kept so toMatrix() gives back its scales. */
  readonly rowsPerScale: number;
  private readonly memory = new HeapBlocks();
  private readonly store: RowStore;

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
    this.store = new RowStore(this.memory, "int8", q.dim, q.rows, false);
    const encoded = {
      precision: "int8" as const,
      codes: new Uint8Array(q.data.buffer, q.data.byteOffset, q.data.byteLength),
      scales: rowScales(q),
    };
    for (let r = 0; r < q.rows; r++) this.store.append(encoded, r, r);
  }

  /** Scores of every row against `query` [dim]. */
  scoreAll(query: Float32Array): Float32Array {
    const { x, xScale } = this.quantizeQuery(query);
    const out = this.memory.rt.scratch.alloc(this.rows * 4);
    this.store.scoreAll(x, xScale, out);
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
    const rt = this.memory.rt;
    const rowsPtr = rt.scratchI32(rows);
    const out = rt.scratch.alloc(rows.length * 4);
    this.store.scoreRows(rowsPtr, rows.length, x, xScale, out);
    return this.takeScores(out, rows.length);
  }

  /** A copy of the table as an Int8Matrix (with the source's rows per scale). */
  toMatrix(): Int8Matrix {
    this.memory.checkLive("Int8Table");
    const { codes, scales: perRow } = this.store.int8View();
    const groups = Math.ceil(this.rows / this.rowsPerScale);
    const scales = Float32Array.from({ length: groups }, (_, g) => perRow[g * this.rowsPerScale]!);
    return { data: codes.slice(), scales, rows: this.rows, dim: this.dim, rowsPerScale: this.rowsPerScale };
  }

  /** Release the heap memory; the table cannot be used afterwards (a second call does nothing). */
  dispose(): void {
    this.memory.release();
  }

  /** The query's int8 codes in scratch memory, and its scale. */
  private quantizeQuery(query: Float32Array): { x: number; xScale: number } {
    this.memory.checkLive("Int8Table");
    if (query.length !== this.dim) {
      throw new RangeError(`Int8Table: query has ${query.length} values for a table of dim ${this.dim}`);
    }
    const rt = this.memory.rt;
    const x = rt.scratch.alloc(this.dim);
    return { x, xScale: writeQueryCodes(rt, query, x) };
  }

  private takeScores(out: number, count: number): Float32Array {
    const scores = this.memory.rt.f32.slice(out >>> 2, (out >>> 2) + count);
    endStep();
    return scores;
  }
}

/** One scale per row (the kernel's layout), expanding shared group scales. */
function rowScales(q: Int8Matrix): Float32Array {
  if (q.rowsPerScale === 1) return q.scales;
  return Float32Array.from({ length: q.rows }, (_, r) => q.scales[Math.floor(r / q.rowsPerScale)]!);
}
