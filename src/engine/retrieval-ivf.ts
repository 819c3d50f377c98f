/**
 * Approximate top-k retrieval by an inverted file: k-means clusters the rows into lists, and a search scans
 * only the lists whose centroids score best against the query, with the same kernels (and so the same
 * scores) as ExactIndex (./retrieval.ts). Import it from ./retrieval.ts, the retrieval module's entry.
 */
import { Rng } from "./random.js";
import {
  checkSearch,
  checkUpsert,
  encode,
  HeapBlocks,
  rowCount,
  RowStore,
  Workspace,
  type Encoded,
  type Precision,
  type Ranked,
  type SearchOptions,
} from "./retrieval-store.js";

export interface IvfSearchOptions extends SearchOptions {
  /** Lists to scan (default: the index's `probes`); every list makes the search exact. */
  probes?: number;
}

export interface IvfOptions {
  precision?: Precision;
  /** Inverted lists (k-means clusters); default round(√n). */
  lists?: number;
  /** Lists a search scans by default; default max(8, ⌈lists / 8⌉) (an eighth of the rows), at most `lists`. */
  probes?: number;
  /** Lloyd iterations of k-means (default 8). */
  iterations?: number;
  /** Points k-means trains on: a random sample of this many rows at most (default 64 per list). */
  sample?: number;
  seed?: number;
}

/**
 * An inverted-file index: k-means (random initial centroids from a seeded sample, Lloyd iterations) splits
 * the rows into `lists` clusters, stored contiguously per list. A search ranks the centroids by dot product
 * with the query and scans the best `probes` lists with the exact kernel, so its scores equal ExactIndex's
 * of the same precision; it misses only items in lists it did not scan. upsert() puts a new or changed row
 * into the list of its nearest centroid (the centroids stay as trained).
 */
export class IvfIndex {
  readonly dim: number;
  readonly precision: Precision;
  /** Lists a search scans unless told otherwise. */
  readonly probes: number;
  private readonly memory: HeapBlocks;
  /** The centroid table on the heap (see centroidTable). */
  private readonly centroidsPtr: number;
  private readonly lists: RowStore[];
  private readonly work: Workspace;
  /** Per item: its list and its slot in that list. */
  private listOf: Int32Array;
  private slotOf: Int32Array;
  private count: number;

  constructor(vectors: Float32Array, dim: number, options: IvfOptions = {}) {
    const n = rowCount("IvfIndex", vectors, dim);
    this.dim = dim;
    this.precision = options.precision ?? "f32";
    const lists = options.lists ?? Math.max(1, Math.round(Math.sqrt(n)));
    if (!Number.isInteger(lists) || lists < 1) {
      throw new RangeError(`IvfIndex: lists must be a positive integer, got ${lists}`);
    }
    this.probes = Math.min(checkProbes(options.probes ?? Math.max(8, Math.ceil(lists / 8))), lists);
    this.memory = new HeapBlocks();
    this.centroidsPtr = centroidTable(this.memory, kMeans(vectors, n, dim, lists, options), lists, dim);
    const assignment = nearestCentroids(this.memory, this.centroidsPtr, lists, vectors, dim);
    const sizes = new Int32Array(lists);
    for (const list of assignment) sizes[list]!++;
    this.lists = Array.from(sizes, (size) => new RowStore(this.memory, this.precision, dim, Math.max(size, 4), true));
    this.listOf = new Int32Array(Math.max(n, 16));
    this.slotOf = new Int32Array(Math.max(n, 16));
    const encoded = encode(vectors, n, dim, this.precision);
    for (let r = 0; r < n; r++) this.place(r, assignment[r]!, encoded, r);
    this.count = n;
    // Queries padded to the centroid table's width with zeros: a query scores q · centroid.
    this.work = new Workspace(this.memory, dim, centroidWidth(dim));
  }

  get size(): number {
    return this.count;
  }

  /** Number of inverted lists. */
  get listCount(): number {
    return this.lists.length;
  }

  /** The k best items for `query` [dim] among the `probes` lists nearest it, best first. */
  search(query: Float32Array, k: number, options: IvfSearchOptions = {}): Ranked {
    this.memory.checkLive("IvfIndex");
    const take = checkSearch("IvfIndex", query, this.dim, k, this.size, options.exclude);
    const probes = Math.min(checkProbes(options.probes ?? this.probes), this.lists.length);
    if (take === 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
    const rt = this.memory.rt;
    const q = this.work.prepare(query, this.precision);
    const mask = this.work.mask(options.exclude, this.size);
    // The lists to scan, best centroid first: good items fill the heap early and raise its threshold.
    const nearest = this.work.probeHeap(probes);
    const filled = rt.kernels.topKF32(
      this.centroidsPtr,
      q.floats,
      this.lists.length,
      centroidWidth(this.dim),
      0,
      0,
      probes,
      nearest.items,
      nearest.scores,
      0,
    );
    rt.kernels.sortTopK(nearest.items, nearest.scores, filled);
    const order = rt.i32.slice(nearest.items >>> 2, (nearest.items >>> 2) + filled);
    const heap = this.work.heap(take);
    let size = 0;
    for (const list of order) size = this.lists[list]!.scan(q, mask, heap, take, size);
    return this.work.ranked(size);
  }

  /** Set item `index` to `vector` [dim], or append it when index = size; it moves to its nearest list. */
  upsert(index: number, vector: Float32Array): void {
    this.memory.checkLive("IvfIndex");
    checkUpsert("IvfIndex", index, vector, this.dim, this.size);
    const list = nearestCentroids(this.memory, this.centroidsPtr, this.lists.length, vector, this.dim)[0]!;
    const encoded = encode(vector, 1, this.dim, this.precision);
    if (index < this.count && this.listOf[index] === list) {
      this.lists[list]!.write(this.slotOf[index]!, encoded, 0, index);
      return;
    }
    if (index < this.count) {
      // Leave the old list: its last row fills the hole.
      const from = this.lists[this.listOf[index]!]!;
      const moved = from.removeSwap(this.slotOf[index]!);
      if (moved >= 0) this.slotOf[moved] = this.slotOf[index]!;
    } else {
      this.count++;
      if (this.count > this.listOf.length) {
        this.listOf = grown(this.listOf, this.count);
        this.slotOf = grown(this.slotOf, this.count);
      }
    }
    this.place(index, list, encoded, 0);
  }

  /** Release the index's memory; later calls throw (a second dispose does nothing). */
  dispose(): void {
    this.memory.release();
  }

  private place(item: number, list: number, encoded: Encoded, row: number): void {
    this.listOf[item] = list;
    this.slotOf[item] = this.lists[list]!.append(encoded, row, item);
  }
}

// ---- k-means --------------------------------------------------------------------------------------

/**
 * `lists` centroids [lists, dim] of the rows: initial centroids are distinct random rows of a seeded
 * sample, then Lloyd iterations over the sample; a cluster left empty restarts at a random sample row.
 */
function kMeans(vectors: Float32Array, n: number, dim: number, lists: number, options: IvfOptions): Float32Array {
  const rng = new Rng(options.seed ?? 0);
  const centroids = new Float32Array(lists * dim);
  if (n === 0) return centroids;
  const sampleSize = Math.min(n, options.sample ?? 64 * lists);
  const order = Int32Array.from({ length: n }, (_, i) => i);
  // A partial Fisher–Yates shuffle: the first sampleSize entries are a uniform sample.
  for (let i = 0; i < sampleSize; i++) {
    const j = i + rng.int(n - i);
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const sample = new Float32Array(sampleSize * dim);
  for (let i = 0; i < sampleSize; i++) sample.set(vectors.subarray(order[i]! * dim, (order[i]! + 1) * dim), i * dim);
  for (let c = 0; c < lists; c++) {
    const from = c < sampleSize ? c : rng.int(sampleSize);
    centroids.set(sample.subarray(from * dim, (from + 1) * dim), c * dim);
  }
  const memory = new HeapBlocks();
  try {
    for (let it = 0; it < (options.iterations ?? 8); it++) {
      const table = centroidTable(memory, centroids, lists, dim);
      const assignment = nearestCentroids(memory, table, lists, sample, dim);
      memory.free(table);
      const sums = new Float64Array(lists * dim);
      const sizes = new Int32Array(lists);
      for (let i = 0; i < sampleSize; i++) {
        const c = assignment[i]!;
        sizes[c]!++;
        for (let j = 0; j < dim; j++) sums[c * dim + j]! += sample[i * dim + j]!;
      }
      for (let c = 0; c < lists; c++) {
        if (sizes[c] === 0) {
          const from = rng.int(sampleSize);
          centroids.set(sample.subarray(from * dim, (from + 1) * dim), c * dim);
          continue;
        }
        for (let j = 0; j < dim; j++) centroids[c * dim + j] = sums[c * dim + j]! / sizes[c]!;
      }
    }
  } finally {
    memory.release();
  }
  return centroids;
}

/** Floats per centroid table row: the centroid, one more, and zeros to a multiple of 4 (whole SIMD steps). */
function centroidWidth(dim: number): number {
  return (dim + 4) & ~3;
}

/**
 * The centroids [lists, dim] on the heap as rows [c, −|c|²/2, 0, …], for the top-k kernel: a point
 * [x, 1, 0, …] scores x·c − |c|²/2 against row c, the highest for its nearest centroid in Euclidean distance,
 * and a query [q, 0, …] scores q·c.
 */
function centroidTable(memory: HeapBlocks, centroids: Float32Array, lists: number, dim: number): number {
  const width = centroidWidth(dim);
  const rows = new Float32Array(lists * width);
  for (let c = 0; c < lists; c++) {
    const centroid = centroids.subarray(c * dim, (c + 1) * dim);
    rows.set(centroid, c * width);
    rows[c * width + dim] = -centroid.reduce((s, v) => s + v * v, 0) / 2;
  }
  const table = memory.alloc(rows.length * 4);
  memory.rt.f32.set(rows, table >>> 2);
  return table;
}

/** The nearest centroid of each point of `points` [n, dim]: one top-1 scan of the centroid table per point. */
function nearestCentroids(
  memory: HeapBlocks,
  table: number,
  lists: number,
  points: Float32Array,
  dim: number,
): Int32Array {
  const width = centroidWidth(dim);
  const point = memory.alloc(width * 4);
  const best = memory.alloc(8);
  // Nothing below allocates, so the views stay valid.
  const { f32, i32, kernels } = memory.rt;
  f32.fill(0, point >>> 2, (point >>> 2) + width);
  f32[(point >>> 2) + dim] = 1;
  const out = new Int32Array(points.length / dim);
  for (let p = 0; p < out.length; p++) {
    f32.set(points.subarray(p * dim, (p + 1) * dim), point >>> 2);
    kernels.topKF32(table, point, lists, width, 0, 0, 1, best, best + 4, 0);
    out[p] = i32[best >>> 2]!;
  }
  memory.free(point);
  memory.free(best);
  return out;
}

function checkProbes(probes: number): number {
  if (!Number.isInteger(probes) || probes < 1) {
    throw new RangeError(`IvfIndex: probes must be a positive integer, got ${probes}`);
  }
  return probes;
}

function grown(values: Int32Array, needed: number): Int32Array {
  const out = new Int32Array(Math.max(needed, 2 * values.length));
  out.set(values);
  return out;
}
