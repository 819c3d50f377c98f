/**
 * The storage under the retrieval indexes (./retrieval.ts, ./retrieval-ivf.ts) and the int8 scoring table
 * (./codecs/int8-table.ts): heap blocks owned by one object and freed together by its dispose(), growable
 * row tables of float32 or int8 rows (one symmetric scale per row) scored by the WebAssembly kernels, and the
 * per-search buffers of an index. Nothing here touches the scratch arena.
 */
import { quantizeInt8 } from "./codecs/int8.js";
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

/** Heap blocks owned by one index or table, freed together by its dispose(). */
export class HeapBlocks {
  readonly rt: Runtime = runtime();
  private released = false;
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

  /** Free every block; a second call does nothing. */
  release(): void {
    for (const ptr of [...this.blocks.keys()]) this.free(ptr);
    this.released = true;
  }

  /** Throw unless the owner (named `owner`) is still live. */
  checkLive(owner: string): void {
    if (this.released) throw new Error(`${owner}: used after dispose()`);
  }
}

/** Vectors in a store's format: floats, or int8 codes (as bytes) with one scale per row. */
export type Encoded =
  { precision: "f32"; values: Float32Array } | { precision: "int8"; codes: Uint8Array; scales: Float32Array };

export function encode(vectors: Float32Array, rows: number, dim: number, precision: Precision): Encoded {
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
export class RowStore {
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

  /** int8 only: the scores of every row against query codes at `codes` with scale `scale`, written to `out`. */
  scoreAll(codes: number, scale: number, out: number): void {
    this.memory.rt.kernels.int8MatVec(this.dataPtr, codes, this.scalesPtr, scale, this.count, this.dim, out);
  }

  /** int8 only: scoreAll's values at the `count` rows listed at `rowsPtr` (i32), written to `out`. */
  scoreRows(rowsPtr: number, count: number, codes: number, scale: number, out: number): void {
    const { kernels } = this.memory.rt;
    kernels.int8MatVecRows(this.dataPtr, rowsPtr, codes, this.scalesPtr, scale, count, this.dim, out);
  }

  /** int8 only: views of the stored codes and per-row scales (valid until the heap grows). */
  int8View(): { codes: Int8Array; scales: Float32Array } {
    const rt = this.memory.rt;
    return {
      codes: new Int8Array(rt.memory.buffer, this.dataPtr, this.count * this.dim),
      scales: rt.f32.subarray(this.scalesPtr >>> 2, (this.scalesPtr >>> 2) + this.count),
    };
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
export interface Query {
  floats: number;
  codes: number;
  scale: number;
}

/** A heap of (item, score) pairs for the kernels. */
export interface Heap {
  items: number;
  scores: number;
}

/**
 * An index's per-search buffers: the query (its floats zero-padded to `width`, its int8 codes), the top-k
 * heap, the probed lists and the exclusion mask.
 */
export class Workspace {
  private readonly floats: number;
  private readonly codes: number;
  private heapBuffer: { heap: Heap; capacity: number } = { heap: { items: 0, scores: 0 }, capacity: 0 };
  private probeBuffer: { heap: Heap; capacity: number } = { heap: { items: 0, scores: 0 }, capacity: 0 };
  private maskPtr = 0;
  private maskCapacity = 0;

  constructor(
    private readonly memory: HeapBlocks,
    dim: number,
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
    return { floats: this.floats, codes: this.codes, scale: writeQueryCodes(rt, query, this.codes) };
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

/**
 * Quantise a query [dim] symmetrically to int8 (max|v| / 127) and write its codes at `at`; returns its scale.
 * Int8 rows and queries use the same quantisation, so their exact i32 dot products are reproducible.
 */
export function writeQueryCodes(rt: Runtime, query: Float32Array, at: number): number {
  const q = quantizeInt8(query, 1, query.length);
  rt.u8.set(new Uint8Array(q.data.buffer, q.data.byteOffset, q.data.length), at);
  return q.scales[0]!;
}

// ---- checks -------------------------------------------------------------------------------------

export function rowCount(name: string, vectors: Float32Array, dim: number): number {
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`${name}: dim must be a positive integer, got ${dim}`);
  if (vectors.length % dim !== 0) {
    throw new RangeError(`${name}: ${vectors.length} values are not whole rows of dim ${dim}`);
  }
  return vectors.length / dim;
}

/** Validate a search; returns how many items it can return at most. */
export function checkSearch(
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

export function checkUpsert(name: string, index: number, vector: Float32Array, dim: number, size: number): void {
  if (!Number.isInteger(index) || index < 0 || index > size) {
    throw new RangeError(`${name}: upsert index ${index} is outside [0, ${size}] (${size} appends)`);
  }
  if (vector.length !== dim) throw new RangeError(`${name}: vector has ${vector.length} values for dim ${dim}`);
}
