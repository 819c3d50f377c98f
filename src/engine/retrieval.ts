/**
 * Top-k retrieval over item vectors by dot product, resident in WebAssembly memory. ExactIndex scans every
 * row; IvfIndex clusters the rows with k-means into inverted lists and scans only the lists whose centroids
 * score best against the query. Both store rows as float32 or as int8 with one scale per row, and score
 * them with one fused kernel that keeps the best k in a small heap inside WebAssembly (see
 * engine/kernels/retrieval.ts), so a query returns k pairs rather than a score per item.
 *
 * Results are sorted best first; equal scores rank the lower item first. An int8 index quantises each row
 * and the query symmetrically (max|v| / 127) and sums the int8 products exactly, so its scores are
 * reproducible to the bit. Neither index touches the scratch arena: each owns its buffers, released by
 * dispose() or, for a dropped index, by the garbage collector.
 */
import { quantizeInt8 } from "./codecs/int8.js";
import { Rng } from "./random.js";
import { runtime, type Runtime } from "./runtime.js";

export type Precision = "f32" | "int8";

/** Items and their scores, best first. */
export interface Ranked {
  items: Int32Array;
  scores: Float32Array;
}

export interface SearchOptions {
  /** One byte per item (at least `size` of them): a non-zero byte leaves the item out. */
  exclude?: Uint8Array;
}

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
    release.register(this, this.memory, this);
  }

  get size(): number {
    return this.rows.count;
  }

  /** The k best items for `query` [dim] (fewer when fewer are left), best first. */
  search(query: Float32Array, k: number, options: SearchOptions = {}): Ranked {
    this.checkLive();
    const take = checkSearch("ExactIndex", query, this.dim, k, this.size, options.exclude);
    if (take === 0) return { items: new Int32Array(0), scores: new Float32Array(0) };
    const q = this.work.prepare(query, this.precision);
    const mask = this.work.mask(options.exclude, this.size);
    const heap = this.work.heap(take);
    return this.work.ranked(this.rows.scan(q, mask, heap, take, 0));
  }

  /** Set row `index` to `vector` [dim], or append it when index = size. */
  upsert(index: number, vector: Float32Array): void {
    this.checkLive();
    checkUpsert("ExactIndex", index, vector, this.dim, this.size);
    const encoded = encode(vector, 1, this.dim, this.precision);
    if (index === this.size) this.rows.append(encoded, 0, index);
    else this.rows.write(index, encoded, 0, index);
  }

  /** Release the index's memory; later calls throw (a second dispose does nothing). */
  dispose(): void {
    if (this.memory.released) return;
    this.memory.release();
    release.unregister(this);
  }

  private checkLive(): void {
    if (this.memory.released) throw new Error("ExactIndex: used after dispose()");
  }
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
    release.register(this, this.memory, this);
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
    this.checkLive();
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
    this.checkLive();
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
    if (this.memory.released) return;
    this.memory.release();
    release.unregister(this);
  }

  private place(item: number, list: number, encoded: Encoded, row: number): void {
    this.listOf[item] = list;
    this.slotOf[item] = this.lists[list]!.append(encoded, row, item);
  }

  private checkLive(): void {
    if (this.memory.released) throw new Error("IvfIndex: used after dispose()");
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

// ---- storage ------------------------------------------------------------------------------------

/** Heap blocks owned by one index, freed together (by dispose() or the finalizer). */
class HeapBlocks {
  readonly rt: Runtime = runtime();
  released = false;
  private readonly blocks = new Map<number, number>();

  alloc(bytes: number): number {
    const ptr = this.rt.alloc(bytes);
    this.blocks.set(ptr, bytes);
    return ptr;
  }

  free(ptr: number): void {
    this.rt.free(ptr, this.blocks.get(ptr)!);
    this.blocks.delete(ptr);
  }

  release(): void {
    for (const ptr of [...this.blocks.keys()]) this.free(ptr);
    this.released = true;
  }
}

// A dropped index gives its memory back to the heap.
const release = new FinalizationRegistry<HeapBlocks>((memory) => memory.release());

/** Vectors in a store's format: floats, or int8 codes (as bytes) with one scale per row. */
type Encoded =
  { precision: "f32"; values: Float32Array } | { precision: "int8"; codes: Uint8Array; scales: Float32Array };

function encode(vectors: Float32Array, rows: number, dim: number, precision: Precision): Encoded {
  if (precision === "int8") {
    const { data, scales } = quantizeInt8(vectors, rows, dim);
    return { precision, codes: new Uint8Array(data.buffer, data.byteOffset, data.length), scales };
  }
  for (let i = 0; i < vectors.length; i++) {
    if (!Number.isFinite(vectors[i])) {
      throw new RangeError(`non-finite value ${vectors[i]} in row ${Math.floor(i / dim)}`);
    }
  }
  return { precision, values: vectors };
}

/** A growable row-major table on the heap: rows, their int8 scales, and for an inverted list each row's item. */
class RowStore {
  count = 0;
  private capacity: number;
  private dataPtr: number;
  /** One scale per row (int8 only, else 0). */
  private scalesPtr = 0;
  /** Each row's item (inverted lists only, else 0: a row is its own item). */
  private idsPtr = 0;
  private readonly rowBytes: number;

  constructor(
    private readonly memory: HeapBlocks,
    readonly precision: Precision,
    readonly dim: number,
    capacity: number,
    withIds: boolean,
  ) {
    this.rowBytes = precision === "int8" ? dim : dim * 4;
    this.capacity = capacity;
    this.dataPtr = memory.alloc(capacity * this.rowBytes);
    if (precision === "int8") this.scalesPtr = memory.alloc(capacity * 4);
    if (withIds) this.idsPtr = memory.alloc(capacity * 4);
  }

  /** Copy row `row` of `source` into `slot`, as item `item`. */
  write(slot: number, source: Encoded, row: number, item: number): void {
    const rt = this.memory.rt;
    const at = this.dataPtr + slot * this.rowBytes;
    if (source.precision === "int8") {
      rt.u8.set(source.codes.subarray(row * this.dim, (row + 1) * this.dim), at);
      rt.f32[(this.scalesPtr >>> 2) + slot] = source.scales[row]!;
    } else {
      rt.f32.set(source.values.subarray(row * this.dim, (row + 1) * this.dim), at >>> 2);
    }
    if (this.idsPtr) rt.i32[(this.idsPtr >>> 2) + slot] = item;
  }

  /** Append row `row` of `source` as item `item`, growing the storage; returns its slot. */
  append(source: Encoded, row: number, item: number): number {
    if (this.count === this.capacity) this.grow(2 * this.capacity);
    this.write(this.count, source, row, item);
    return this.count++;
  }

  /** Remove `slot` by moving the last row into it; returns the moved row's item (-1 when it was the last). */
  removeSwap(slot: number): number {
    const last = --this.count;
    if (slot === last) return -1;
    const rt = this.memory.rt;
    const from = this.dataPtr + last * this.rowBytes;
    rt.u8.copyWithin(this.dataPtr + slot * this.rowBytes, from, from + this.rowBytes);
    if (this.scalesPtr) rt.f32[(this.scalesPtr >>> 2) + slot] = rt.f32[(this.scalesPtr >>> 2) + last]!;
    const item = rt.i32[(this.idsPtr >>> 2) + last]!;
    rt.i32[(this.idsPtr >>> 2) + slot] = item;
    return item;
  }

  /** Offer every row to the heap of capacity k holding `size` pairs; returns its new size. */
  scan(q: Query, mask: number, heap: Heap, k: number, size: number): number {
    const { kernels } = this.memory.rt;
    const { dataPtr, scalesPtr, idsPtr, count, dim } = this;
    return this.precision === "int8"
      ? kernels.topKInt8(
          dataPtr,
          scalesPtr,
          q.codes,
          q.scale,
          count,
          dim,
          idsPtr,
          mask,
          k,
          heap.items,
          heap.scores,
          size,
        )
      : kernels.topKF32(dataPtr, q.floats, count, dim, idsPtr, mask, k, heap.items, heap.scores, size);
  }

  private grow(capacity: number): void {
    const rt = this.memory.rt;
    const move = (ptr: number, bytesPerRow: number): number => {
      const moved = this.memory.alloc(capacity * bytesPerRow);
      rt.u8.copyWithin(moved, ptr, ptr + this.count * bytesPerRow);
      this.memory.free(ptr);
      return moved;
    };
    this.dataPtr = move(this.dataPtr, this.rowBytes);
    if (this.scalesPtr) this.scalesPtr = move(this.scalesPtr, 4);
    if (this.idsPtr) this.idsPtr = move(this.idsPtr, 4);
    this.capacity = capacity;
  }
}

/** A query on the heap: its floats, and its int8 codes and scale. */
interface Query {
  floats: number;
  codes: number;
  scale: number;
}

/** A heap of (item, score) pairs for the kernels. */
interface Heap {
  items: number;
  scores: number;
}

/**
 * An index's per-search buffers: the query (its floats zero-padded to `width`, its int8 codes), the top-k
 * heap, the probed lists and the exclusion mask.
 */
class Workspace {
  private readonly floats: number;
  private readonly codes: number;
  private heapBuffer: { heap: Heap; capacity: number } = { heap: { items: 0, scores: 0 }, capacity: 0 };
  private probeBuffer: { heap: Heap; capacity: number } = { heap: { items: 0, scores: 0 }, capacity: 0 };
  private maskPtr = 0;
  private maskCapacity = 0;

  constructor(
    private readonly memory: HeapBlocks,
    private readonly dim: number,
    width: number,
  ) {
    this.floats = memory.alloc(width * 4);
    memory.rt.f32.fill(0, this.floats >>> 2, (this.floats >>> 2) + width);
    this.codes = memory.alloc(dim);
  }

  prepare(query: Float32Array, precision: Precision): Query {
    const rt = this.memory.rt;
    rt.f32.set(query, this.floats >>> 2);
    if (precision === "f32") return { floats: this.floats, codes: 0, scale: 0 };
    const q = quantizeInt8(query, 1, this.dim);
    rt.u8.set(new Uint8Array(q.data.buffer, q.data.byteOffset, this.dim), this.codes);
    return { floats: this.floats, codes: this.codes, scale: q.scales[0]! };
  }

  /** The exclusion mask on the heap (0 for none). */
  mask(exclude: Uint8Array | undefined, size: number): number {
    if (!exclude) return 0;
    if (size > this.maskCapacity) {
      if (this.maskPtr) this.memory.free(this.maskPtr);
      this.maskCapacity = Math.max(size, 2 * this.maskCapacity);
      this.maskPtr = this.memory.alloc(this.maskCapacity);
    }
    this.memory.rt.u8.set(exclude.subarray(0, size), this.maskPtr);
    return this.maskPtr;
  }

  heap(k: number): Heap {
    this.heapBuffer = this.reserve(this.heapBuffer, k);
    return this.heapBuffer.heap;
  }

  probeHeap(k: number): Heap {
    this.probeBuffer = this.reserve(this.probeBuffer, k);
    return this.probeBuffer.heap;
  }

  /** The heap's `size` pairs, sorted best first. */
  ranked(size: number): Ranked {
    const rt = this.memory.rt;
    const { items, scores } = this.heapBuffer.heap;
    rt.kernels.sortTopK(items, scores, size);
    return {
      items: rt.i32.slice(items >>> 2, (items >>> 2) + size),
      scores: rt.f32.slice(scores >>> 2, (scores >>> 2) + size),
    };
  }

  private reserve(buffer: { heap: Heap; capacity: number }, k: number): { heap: Heap; capacity: number } {
    if (k <= buffer.capacity) return buffer;
    if (buffer.capacity) {
      this.memory.free(buffer.heap.items);
      this.memory.free(buffer.heap.scores);
    }
    const capacity = Math.max(k, 16);
    return { heap: { items: this.memory.alloc(capacity * 4), scores: this.memory.alloc(capacity * 4) }, capacity };
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

// ---- checks -------------------------------------------------------------------------------------

function rowCount(name: string, vectors: Float32Array, dim: number): number {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${name}: dim must be a positive integer, got ${dim}`);
  if (vectors.length % dim !== 0) {
    throw new RangeError(`${name}: ${vectors.length} values are not whole rows of dim ${dim}`);
  }
  return vectors.length / dim;
}

/** Validate a search; returns how many items it can return at most. */
function checkSearch(
  name: string,
  query: Float32Array,
  dim: number,
  k: number,
  size: number,
  exclude: Uint8Array | undefined,
): number {
  if (query.length !== dim) throw new RangeError(`${name}: query has ${query.length} values for dim ${dim}`);
  for (const v of query) if (!Number.isFinite(v)) throw new RangeError(`${name}: query has a non-finite value ${v}`);
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`${name}: k must be a non-negative integer, got ${k}`);
  if (exclude && exclude.length < size) {
    throw new RangeError(`${name}: exclusion mask has ${exclude.length} bytes for ${size} items`);
  }
  return Math.min(k, size);
}

function checkUpsert(name: string, index: number, vector: Float32Array, dim: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index > size) {
    throw new RangeError(`${name}: upsert index ${index} is outside [0, ${size}] (${size} appends)`);
  }
  if (vector.length !== dim) throw new RangeError(`${name}: vector has ${vector.length} values for dim ${dim}`);
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
