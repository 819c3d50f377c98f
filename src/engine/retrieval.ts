/**
 * Top-k retrieval over item vectors by dot product, resident in WebAssembly memory. ExactIndex scans every
 * row; IvfIndex clusters the rows with k-means into inverted lists and scans only the lists whose centroids
 * score best against the query. Both store rows as float32 or as int8 with one scale per row, and score
 * them with one fused kernel that keeps the best k in a small heap inside WebAssembly (see
 * engine/kernels/retrieval.ts), so a query returns k pairs rather than a score per item.
 *
 * Results are sorted best first; equal scores rank the lower item first. An int8 index quantises each row
 * and the query symmetrically (max|v| / 127) and sums the int8 products exactly, so its scores are
 * reproducible to the bit. Neither index touches the scratch arena: each owns its buffers until its owner
 * calls dispose().
 */
import {
  checkSearch,
  checkUpsert,
  encode,
  HeapBlocks,
  rowCount,
  RowStore,
  Workspace,
  type Precision,
  type Ranked,
  type SearchOptions,
} from "./retrieval-store.js";

export type { Precision, Ranked, SearchOptions } from "./retrieval-store.js";
export { IvfIndex, type IvfOptions, type IvfSearchOptions } from "./retrieval-ivf.js";

/** Anything that answers a top-k query (for measureRecall). */
export interface VectorSearch {
  readonly dim: number;
  search(query: Float32Array, k: number): Ranked;
}

/**
 * Exact top-k by a scan of every row. Built from row-major vectors [n, dim]; upsert() changes a row or
 * appends one at index `size`, growing the storage geometrically.
 */
export class ExactIndex {
  readonly dim: number;
  readonly precision: Precision;
  private readonly memory: HeapBlocks;
  private readonly rows: RowStore;
  private readonly work: Workspace;

  constructor(vectors: Float32Array, dim: number, options: { precision?: Precision } = {}) {
    const n = rowCount("ExactIndex", vectors, dim);
    this.dim = dim;
    this.precision = options.precision ?? "f32";
    this.memory = new HeapBlocks();
    this.rows = new RowStore(this.memory, this.precision, dim, Math.max(n, 16), false);
    const encoded = encode(vectors, n, dim, this.precision);
    for (let r = 0; r < n; r++) this.rows.append(encoded, r, r);
    this.work = new Workspace(this.memory, dim, dim);
  }

  get size(): number {
    return this.rows.count;
  }

  /** The k best items for `query` [dim] (fewer when fewer are left), best first. */
  search(query: Float32Array, k: number, options: SearchOptions = {}): Ranked {
    this.memory.checkLive("ExactIndex");
    const take = checkSearch("ExactIndex", query, this.dim, k, this.size, options.exclude);
    if (take === 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
    const q = this.work.prepare(query, this.precision);
    const mask = this.work.mask(options.exclude, this.size);
    const heap = this.work.heap(take);
    return this.work.ranked(this.rows.scan(q, mask, heap, take, 0));
  }

  /** Set row `index` to `vector` [dim], or append it when index = size. */
  upsert(index: number, vector: Float32Array): void {
    this.memory.checkLive("ExactIndex");
    checkUpsert("ExactIndex", index, vector, this.dim, this.size);
    const encoded = encode(vector, 1, this.dim, this.precision);
    if (index === this.size) this.rows.append(encoded, 0, index);
    else this.rows.write(index, encoded, 0, index);
  }

  /** Release the index's memory; later calls throw (a second dispose does nothing). */
  dispose(): void {
    this.memory.release();
  }
}

/**
 * Recall@k of `approx` against `exact` over queries (row-major [count, dim]): the mean share of exact's top
 * k that approx also returns. Queries for which exact finds nothing count as fully recalled.
 */
export function measureRecall(approx: VectorSearch, exact: VectorSearch, queries: Float32Array, k: number): number {
  const dim = exact.dim;
  const count = rowCount("measureRecall", queries, dim);
  if (count === 0) throw new RangeError("measureRecall: no queries");
  let total = 0;
  for (let i = 0; i < count; i++) {
    const query = queries.subarray(i * dim, (i + 1) * dim);
    const truth = exact.search(query, k).items;
    if (truth.length === 0) {
      total += 1;
      continue;
    }
    const found = new Set(approx.search(query, k).items);
    total += truth.filter((item) => found.has(item)).length / truth.length;
  }
  return total / count;
}
