/**
 * The WebAssembly runtime: one shared linear memory, the compiled SIMD kernels, and two allocators
 * over that memory — a heap for long-lived buffers (parameters, optimiser state) and a scratch arena
 * for a training step's temporaries (activations, gradients), reset after every step.
 *
 * The memory is a shared WebAssembly.Memory so worker threads can instantiate the same kernels over
 * the same parameters (parallel training, engine/parallel.ts). Every thread owns its own arena and free lists; growth of the
 * heap is an atomic bump of a pointer kept in the memory itself, so threads never hand out the same bytes.
 */
import { readFileSync } from "node:fs";
import { bindKernels, type Kernels } from "./kernel-table.js";

export type { Kernels } from "./kernel-table.js";

const PAGE = 65536;
/** Bytes below this belong to the kernels' static data (see memoryBase in asconfig.json). */
const HEAP_START = 1 << 20;
/** Where the shared heap-top pointer lives (an i32 inside the reserved low region). */
const TOP_ADDR = 8;
/** Every allocation is 64-byte aligned: whole cache lines, and any SIMD load is aligned. */
const ALIGN = 64;
const MAX_PAGES = 65536;

let wasmModule: WebAssembly.Module | undefined;
/** The compiled kernel module (dist/kernels.wasm), compiled once per thread. */
export function compiledKernels(): WebAssembly.Module {
  wasmModule ??= new WebAssembly.Module(readFileSync(new URL("../../kernels.wasm", import.meta.url)));
  return wasmModule;
}

/** Blocks from this size up are "large": page-rounded instead of power-of-two, and staggered. */
const LARGE = 1 << 16;

/**
 * Small blocks come in power-of-two size classes, so freed ones are reused without fragmentation
 * bookkeeping; large ones are rounded to 4 KiB (a power of two would waste up to half a big table).
 */
function sizeClass(bytes: number): number {
  if (bytes >= LARGE) return Math.ceil(bytes / 4096) * 4096;
  return Math.max(ALIGN, 2 ** Math.ceil(Math.log2(Math.max(bytes, 1))));
}

export class Runtime {
  readonly memory: WebAssembly.Memory;
  readonly kernels: Kernels;
  readonly scratch: Arena;
  private buffer: ArrayBufferLike;
  private f32View: Float32Array;
  private i32View: Int32Array;
  private u8View: Uint8Array;
  private readonly freeLists = new Map<number, number[]>();
  /** While recording, every heap allocation's [ptr, bytes]; while replaying, the allocations to hand out again. */
  private recording: [number, number][] | null = null;
  private replaying: { blocks: readonly (readonly [number, number])[]; next: number } | null = null;

  /** Create the main thread's runtime, or (given a memory) a worker's runtime over shared memory. */
  constructor(memory?: WebAssembly.Memory) {
    const fresh = memory === undefined;
    this.memory =
      memory ?? new WebAssembly.Memory({ initial: HEAP_START / PAGE + 16, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(compiledKernels(), {
      env: {
        memory: this.memory,
        abort: () => {
          throw new Error("distillrec kernel aborted");
        },
      },
    });
    this.kernels = bindKernels(instance.exports);
    this.buffer = this.memory.buffer;
    this.f32View = new Float32Array(this.buffer);
    this.i32View = new Int32Array(this.buffer);
    this.u8View = new Uint8Array(this.buffer);
    if (fresh) Atomics.store(this.i32View, TOP_ADDR >>> 2, HEAP_START);
    this.scratch = new Arena(this);
  }

  /** Views over the whole memory; re-created when the memory has grown. */
  get f32(): Float32Array {
    if (this.memory.buffer !== this.buffer) this.refreshViews();
    return this.f32View;
  }
  get i32(): Int32Array {
    if (this.memory.buffer !== this.buffer) this.refreshViews();
    return this.i32View;
  }
  get u8(): Uint8Array {
    if (this.memory.buffer !== this.buffer) this.refreshViews();
    return this.u8View;
  }

  private refreshViews(): void {
    this.buffer = this.memory.buffer;
    this.f32View = new Float32Array(this.buffer);
    this.i32View = new Int32Array(this.buffer);
    this.u8View = new Uint8Array(this.buffer);
  }

  /** Allocate `bytes` (64-byte aligned, uninitialised) on the heap; returns a byte offset. */
  alloc(bytes: number): number {
    if (this.replaying) return this.replayNext(bytes);
    const size = sizeClass(bytes);
    const ptr = this.freeLists.get(size)?.pop() ?? this.bumpStaggered(size);
    this.recording?.push([ptr, bytes]);
    return ptr;
  }

  /**
   * Run `build` (a model and optimiser constructor) and return the heap blocks it allocated, in order.
   * A worker thread passes them to replayAllocations() to rebuild the same objects over the same memory.
   */
  recordAllocations<T>(build: () => T): { result: T; blocks: [number, number][] } {
    if (this.recording || this.replaying) throw new Error("distillrec: allocation recording cannot nest");
    this.recording = [];
    try {
      const result = build();
      return { result, blocks: this.recording };
    } finally {
      this.recording = null;
    }
  }

  /**
   * Run `build` so that its heap allocations are the recorded `blocks`, in the same order: the objects it
   * builds share their parameters and optimiser state with the recording thread. Whatever `build`
   * writes into those blocks (initialisation) is undone, so the shared values are left as they were;
   * nobody else may write them meanwhile (the worker pool starts workers one at a time).
   */
  replayAllocations<T>(blocks: readonly (readonly [number, number])[], build: () => T): T {
    if (this.recording || this.replaying) throw new Error("distillrec: allocation replay cannot nest");
    const saved = blocks.map(([ptr, bytes]) => this.u8.slice(ptr, ptr + bytes));
    this.replaying = { blocks, next: 0 };
    try {
      const result = build();
      if (this.replaying.next !== blocks.length) {
        throw new Error(`distillrec: replay built ${this.replaying.next} of ${blocks.length} recorded allocations`);
      }
      return result;
    } finally {
      this.replaying = null;
      blocks.forEach(([ptr], i) => this.u8.set(saved[i]!, ptr));
    }
  }

  private replayNext(bytes: number): number {
    const replay = this.replaying!;
    const block = replay.blocks[replay.next++];
    if (!block || block[1] !== bytes) {
      throw new Error(
        `distillrec: replayed allocation ${replay.next - 1} asks for ${bytes} bytes, recorded ${block ? block[1] : "none"}: the build is not deterministic`,
      );
    }
    return block[0];
  }

  /** Allocate zeroed memory on the heap. */
  allocZeroed(bytes: number): number {
    const ptr = this.alloc(bytes);
    this.u8.fill(0, ptr, ptr + bytes);
    return ptr;
  }

  /** Return a heap block to this thread's free list. */
  free(ptr: number, bytes: number): void {
    const size = sizeClass(bytes);
    let list = this.freeLists.get(size);
    if (!list) this.freeLists.set(size, (list = []));
    list.push(ptr);
  }

  /** Claim fresh bytes at the top of the heap, growing the memory when needed. */
  bump(bytes: number): number {
    const size = Math.ceil(bytes / ALIGN) * ALIGN;
    const ptr = Atomics.add(new Int32Array(this.memory.buffer, TOP_ADDR, 1), 0, size) >>> 0;
    const end = ptr + size;
    if (end > MAX_PAGES * PAGE || end < ptr) {
      throw new RangeError(`distillrec: out of WebAssembly memory (asked for ${bytes} bytes; the limit is 4 GiB)`);
    }
    const have = this.memory.buffer.byteLength;
    if (end > have) {
      // Grow in big steps: growing is cheap, but each growth re-creates every view.
      const want = Math.max(Math.ceil((end - have) / PAGE), have / PAGE / 4, 256);
      const pages = Math.min(Math.ceil(want), MAX_PAGES - have / PAGE);
      try {
        this.memory.grow(pages);
      } catch {
        // Another thread may have grown it in the meantime; only fail if still too small.
        if (this.memory.buffer.byteLength < end) {
          throw new RangeError(`distillrec: could not grow WebAssembly memory to ${end} bytes`);
        }
      }
    }
    return ptr;
  }

  /**
   * Large blocks start at a varying cache-line offset: a table and its same-sized optimiser state placed
   * exactly a power of two apart alias in the cache and slow row updates several-fold.
   */
  private bumpStaggered(size: number): number {
    if (size < LARGE) return this.bump(size);
    const stagger = ((this.largeBlocks++ % 15) + 1) * ALIGN;
    return this.bump(size + stagger) + stagger;
  }
  private largeBlocks = 0;

  /** Copy a JS array into the scratch arena (for indices and batch inputs). */
  scratchI32(values: ArrayLike<number>): number {
    const ptr = this.scratch.alloc(values.length * 4);
    this.i32.set(values, ptr >>> 2);
    return ptr;
  }

  scratchF32(values: ArrayLike<number>): number {
    const ptr = this.scratch.alloc(values.length * 4);
    this.f32.set(values, ptr >>> 2);
    return ptr;
  }
}

/**
 * A bump allocator for one step's temporaries. `reset()` frees everything at once and bumps the epoch,
 * so a tensor that outlives its step is caught instead of silently reading reused memory.
 */
export class Arena {
  epoch = 0;
  private readonly chunks: { ptr: number; bytes: number }[] = [];
  private chunk = -1;
  private offset = 0;
  private limit = 0;

  constructor(private readonly runtime: Runtime) {}

  alloc(bytes: number): number {
    const size = Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    if (this.offset + size > this.limit) this.nextChunk(size);
    const ptr = this.offset;
    this.offset += size;
    return ptr;
  }

  allocZeroed(bytes: number): number {
    const ptr = this.alloc(bytes);
    this.runtime.u8.fill(0, ptr, ptr + bytes);
    return ptr;
  }

  /** Release every temporary allocated since the last reset. */
  reset(): void {
    this.epoch++;
    this.chunk = -1;
    this.offset = 0;
    this.limit = 0;
  }

  private nextChunk(size: number): void {
    // Reuse the next chunk if it is large enough, otherwise add a new one (at least 16 MiB).
    while (++this.chunk < this.chunks.length) {
      const c = this.chunks[this.chunk]!;
      if (c.bytes >= size) {
        this.offset = c.ptr;
        this.limit = c.ptr + c.bytes;
        return;
      }
    }
    const bytes = Math.max(size, 16 << 20);
    const ptr = this.runtime.bump(bytes);
    this.chunks.push({ ptr, bytes });
    this.chunk = this.chunks.length - 1;
    this.offset = ptr;
    this.limit = ptr + bytes;
  }
}

let current: Runtime | undefined;

/** The runtime of this thread, created on first use. */
export function runtime(): Runtime {
  current ??= new Runtime();
  return current;
}

/** Install a runtime over an existing shared memory (used by worker threads before any model code runs). */
export function attachRuntime(memory: WebAssembly.Memory): Runtime {
  if (current) throw new Error("distillrec: this thread already has a runtime");
  current = new Runtime(memory);
  return current;
}
