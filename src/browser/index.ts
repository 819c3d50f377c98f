/**
 * distillrec in the browser (`distillrec/browser`): load a student's web form over fetch and recommend
 * in the page with the same WebAssembly SIMD kernels as in Node — top-k for a known user, for a live
 * history (a visitor nobody knows yet), and items similar to an item. An ES module with no Node
 * built-ins; the kernels use shared memory, so the page must be cross-origin isolated (COOP/COEP).
 */
import { bindKernels, type Kernels, type Ptr } from "../engine/kernel-table.js";
import { WEB_FORMAT, WEB_VERSION, type WebModelManifest } from "./format.js";

export { WEB_FORMAT, WEB_VERSION, type WebModelManifest, type WebTable } from "./format.js";

const PAGE = 65536;
/** Bytes below this belong to the kernels' static data (as in engine/runtime.ts). */
const HEAP_START = 1 << 20;
const ALIGN = 64;

/** A ranked list: dense item indices, their external ids and scores, best first. */
export interface Recommendations {
  items: number[];
  ids: string[];
  scores: number[];
}

export interface RecommendOptions {
  /** Items to leave out (dense indices); default: the history the user vector was built from. */
  exclude?: readonly number[];
}

/** The kernels over one shared memory with a bump allocator (everything a student holds lives as long as it). */
class Kernel {
  readonly memory: WebAssembly.Memory;
  readonly k: Kernels;
  private top = HEAP_START;

  constructor(module: WebAssembly.Module) {
    this.memory = new WebAssembly.Memory({ initial: HEAP_START / PAGE + 1, maximum: 65536, shared: true });
    const instance = new WebAssembly.Instance(module, {
      env: {
        memory: this.memory,
        abort: () => {
          throw new Error("distillrec kernel aborted");
        },
      },
    });
    this.k = bindKernels(instance.exports);
  }

  alloc(bytes: number): Ptr {
    const ptr = this.top;
    this.top += Math.ceil(Math.max(bytes, 1) / ALIGN) * ALIGN;
    const need = Math.ceil(this.top / PAGE) - this.memory.buffer.byteLength / PAGE;
    if (need > 0) this.memory.grow(need);
    return ptr;
  }

  /** Views are taken fresh: growing the memory replaces its buffer. */
  f32(ptr: Ptr, n: number): Float32Array {
    return new Float32Array(this.memory.buffer, ptr, n);
  }

  i32(ptr: Ptr, n: number): Int32Array {
    return new Int32Array(this.memory.buffer, ptr, n);
  }

  u8(ptr: Ptr, n: number): Uint8Array {
    return new Uint8Array(this.memory.buffer, ptr, n);
  }
}

/** A student loaded in the page. */
export class BrowserStudent {
  readonly users: readonly string[];
  readonly items: readonly string[];
  private readonly userIndex: Map<string, number>;
  private readonly itemIndex: Map<string, number>;
  private readonly tables: Record<string, Ptr> = {};
  private readonly mlp: { weight: Float32Array; bias: Float32Array | null; in: number; out: number }[] = [];
  // Scratch blocks, sized for the largest request.
  private readonly query: Ptr;
  private readonly scores: Ptr;
  private readonly rowIds: Ptr;
  private readonly mask: Ptr;
  private readonly heapItems: Ptr;
  private readonly heapScores: Ptr;
  private readonly bagIds: Ptr;
  private readonly bagOffsets: Ptr;
  private readonly bagValues: Ptr;
  private readonly bagWeights: Ptr;
  private readonly pooled: Ptr;

  constructor(
    readonly manifest: WebModelManifest,
    tables: ArrayBuffer,
    private readonly kernel: Kernel,
  ) {
    if (manifest.format !== WEB_FORMAT || manifest.version !== WEB_VERSION) {
      throw new Error(`distillrec: not a web student (format ${manifest.format}, version ${manifest.version})`);
    }
    if (tables.byteLength !== manifest.bytes) {
      throw new Error(`distillrec: tables.bin has ${tables.byteLength} bytes, the manifest says ${manifest.bytes}`);
    }
    this.users = manifest.users;
    this.items = manifest.items;
    this.userIndex = new Map(manifest.users.map((id, k) => [id, k]));
    this.itemIndex = new Map(manifest.items.map((id, k) => [id, k]));
    for (const [name, t] of Object.entries(manifest.tables)) {
      const values = new Float32Array(tables, t.offset, t.rows * t.cols);
      if (name.startsWith("mlp.")) continue;
      const ptr = kernel.alloc(values.byteLength);
      kernel.f32(ptr, values.length).set(values);
      this.tables[name] = ptr;
    }
    manifest.mlp.forEach((layer, k) => {
      const w = manifest.tables[`mlp.${k}.weight`]!;
      const b = manifest.tables[`mlp.${k}.bias`];
      this.mlp.push({
        weight: new Float32Array(tables, w.offset, w.rows * w.cols).slice(),
        bias: b ? new Float32Array(tables, b.offset, b.cols).slice() : null,
        in: layer.in,
        out: layer.out,
      });
    });
    const { dim, numItems, maxHistory } = manifest;
    this.query = kernel.alloc(dim * 4);
    this.scores = kernel.alloc(numItems * 4);
    this.rowIds = kernel.alloc(numItems * 4);
    kernel.i32(this.rowIds, numItems).set(Int32Array.from({ length: numItems }, (_, i) => i));
    this.mask = kernel.alloc(numItems);
    this.heapItems = kernel.alloc(numItems * 4);
    this.heapScores = kernel.alloc(numItems * 4);
    this.bagIds = kernel.alloc(Math.max(1, maxHistory) * 4);
    this.bagOffsets = kernel.alloc(4);
    this.bagValues = kernel.alloc(Math.max(1, maxHistory) * dim * 4);
    this.bagWeights = kernel.alloc(Math.max(1, maxHistory) * 4);
    this.pooled = kernel.alloc(dim * 4);
  }

  get numUsers(): number {
    return this.manifest.numUsers;
  }

  get numItems(): number {
    return this.manifest.numItems;
  }

  /** The row of a user nobody has seen: its history alone speaks for it. */
  get unknownUser(): number {
    return this.manifest.numUsers;
  }

  /** Dense index of an external user id (undefined when unknown). */
  user(id: string): number | undefined {
    return this.userIndex.get(id);
  }

  /** Dense index of an external item id (undefined when unknown). */
  item(id: string): number | undefined {
    return this.itemIndex.get(id);
  }

  /** A known user's training history (dense item indices, oldest first; empty when the model reads none). */
  historyOf(user: number): number[] {
    return this.manifest.histories[user] ?? [];
  }

  /**
   * The user vector, computed as the student computes it: the id row, the pooled history (the last
   * maxHistory items of `history`, default the user's training history) and side features, summed or
   * through the user MLP.
   */
  userVector(user: number, history?: readonly number[]): Float32Array {
    const { dim, numUsers, numItems, maxHistory, userFields } = this.manifest;
    const row = user >= 0 && user < numUsers ? user : numUsers;
    const items = (history ?? this.historyOf(row)).slice(-maxHistory);
    for (const i of items) {
      if (!(Number.isInteger(i) && i >= 0 && i < numItems)) throw new RangeError(`distillrec: no item ${i}`);
    }
    const fields: Float32Array[] = [];
    let feature = 0;
    for (const field of userFields) {
      if (field === "id") fields.push(this.kernel.f32(this.tables.userId! + row * dim * 4, dim).slice());
      else if (field === "history") fields.push(this.pool(items));
      else {
        const width = this.manifest.tables.userFeatures!.cols;
        const at = this.tables.userFeatures! + (row * width + feature++ * dim) * 4;
        fields.push(this.kernel.f32(at, dim).slice());
      }
    }
    if (this.mlp.length === 0) {
      // Summed in the tower's order, in float32, as ops.add does.
      const x = fields[0]!;
      for (let f = 1; f < fields.length; f++) for (let c = 0; c < dim; c++) x[c] = Math.fround(x[c]! + fields[f]![c]!);
      return x;
    }
    let x = new Float32Array(fields.length * dim);
    fields.forEach((f, k) => x.set(f, k * dim));
    this.mlp.forEach((layer, k) => {
      const y = new Float32Array(layer.out);
      for (let o = 0; o < layer.out; o++) {
        let s = 0;
        for (let c = 0; c < layer.in; c++) s += layer.weight[o * layer.in + c]! * x[c]!;
        s += layer.bias?.[o] ?? 0;
        y[o] = k < this.mlp.length - 1 ? Math.max(0, s) : s;
      }
      x = y;
    });
    return x;
  }

  /** The history pooled by the kernels the student trained with (embeddingBag mean, or attentionPool). */
  private pool(items: readonly number[]): Float32Array {
    const { dim, pooling } = this.manifest;
    const { k } = this.kernel;
    const n = items.length;
    this.kernel.i32(this.bagIds, Math.max(1, n)).set(items);
    this.kernel.i32(this.bagOffsets, 1)[0] = 0;
    if (pooling === "attention") {
      k.gather(this.tables.history!, this.bagIds, n, dim, this.bagValues);
      const scale = 1 / Math.sqrt(dim);
      k.attentionPool(
        this.bagValues,
        n,
        this.bagOffsets,
        1,
        this.tables.query!,
        0,
        dim,
        scale,
        this.bagWeights,
        this.pooled,
      );
    } else {
      k.embeddingBag(this.tables.history!, this.bagIds, n, this.bagOffsets, 1, dim, 1, this.pooled);
    }
    return this.kernel.f32(this.pooled, dim).slice();
  }

  /** Every item's score for a vector: one matVec scan. */
  scoreAll(vector: Float32Array): Float32Array {
    const { dim, numItems } = this.manifest;
    this.kernel.f32(this.query, dim).set(vector);
    this.kernel.k.matVec(this.tables.items!, this.query, numItems, dim, this.scores);
    return this.kernel.f32(this.scores, numItems).slice();
  }

  /** The k best items for a vector, leaving out `exclude`: the topKF32 scan and sortTopK, as ExactIndex does. */
  topK(vector: Float32Array, k: number, exclude: readonly number[] = []): Recommendations {
    const { dim, numItems } = this.manifest;
    const take = Math.min(k, numItems - new Set(exclude).size);
    if (take <= 0) return { items: [], ids: [], scores: [] };
    this.kernel.f32(this.query, dim).set(vector);
    const mask = this.kernel.u8(this.mask, numItems);
    mask.fill(0);
    for (const i of exclude) mask[i] = 1;
    const kernels = this.kernel.k;
    const size = kernels.topKF32(
      this.tables.items!,
      this.query,
      numItems,
      dim,
      this.rowIds,
      exclude.length ? this.mask : 0,
      take,
      this.heapItems,
      this.heapScores,
      0,
    );
    kernels.sortTopK(this.heapItems, this.heapScores, size);
    const items = Array.from(this.kernel.i32(this.heapItems, size));
    return { items, ids: items.map((i) => this.items[i]!), scores: Array.from(this.kernel.f32(this.heapScores, size)) };
  }

  /** Top-k for a known user (or the unknown user) and a history (default: the user's own); the history is left out. */
  recommend(user: number, k = 10, history?: readonly number[], options: RecommendOptions = {}): Recommendations {
    const used = (history ?? this.historyOf(user)).slice(-Math.max(1, this.manifest.maxHistory));
    return this.topK(this.userVector(user, history), k, options.exclude ?? used);
  }

  /** Top-k for a live history only (a visitor the model never saw), leaving out those items. */
  recommendForHistory(history: readonly number[], k = 10, options: RecommendOptions = {}): Recommendations {
    return this.recommend(this.unknownUser, k, history, options);
  }

  /** The k items whose vectors score highest against the item's own, leaving the item out. */
  similarItems(item: number, k = 10): Recommendations {
    const { dim, numItems } = this.manifest;
    if (!(Number.isInteger(item) && item >= 0 && item < numItems)) throw new RangeError(`distillrec: no item ${item}`);
    const vector = this.kernel.f32(this.tables.items! + item * dim * 4, dim).slice();
    return this.topK(vector, k, [item]);
  }
}

export interface LoadOptions {
  /** Where kernels.wasm is (default: beside this module). */
  wasm?: string | URL;
  fetch?: typeof fetch;
}

/** The bytes of the last load: what went over the wire (for reports). */
export interface LoadStats {
  manifestBytes: number;
  tableBytes: number;
  wasmBytes: number;
}

/** Fetch a student's web form at `url` (a directory holding model.json and tables.bin) and its kernels. */
export async function loadStudent(
  url: string | URL,
  options: LoadOptions = {},
): Promise<BrowserStudent & { stats: LoadStats }> {
  const get = options.fetch ?? fetch;
  const base = new URL(
    String(url).endsWith("/") ? String(url) : `${String(url)}/`,
    (globalThis as { location?: { href: string } }).location?.href,
  );
  const wasmUrl = new URL(options.wasm ?? "kernels.wasm", import.meta.url);
  const ok = async (u: URL): Promise<Response> => {
    const res = await get(u);
    if (!res.ok) throw new Error(`distillrec: GET ${u.href}: ${res.status} ${res.statusText}`);
    return res;
  };
  const [manifestText, tables, wasm] = await Promise.all([
    ok(new URL("model.json", base)).then((r) => r.text()),
    ok(new URL("tables.bin", base)).then((r) => r.arrayBuffer()),
    ok(wasmUrl).then((r) => r.arrayBuffer()),
  ]);
  if (typeof SharedArrayBuffer === "undefined") {
    throw new Error("distillrec: the kernels need shared memory: serve the page cross-origin isolated (COOP/COEP)");
  }
  // Compiled asynchronously: browsers refuse large synchronous compiles on the main thread.
  const wasmApi = WebAssembly as unknown as { compile(bytes: ArrayBuffer): Promise<WebAssembly.Module> };
  const kernel = new Kernel(await wasmApi.compile(wasm));
  const student = new BrowserStudent(JSON.parse(manifestText) as WebModelManifest, tables, kernel);
  return Object.assign(student, {
    stats: { manifestBytes: manifestText.length, tableBytes: tables.byteLength, wasmBytes: wasm.byteLength },
  });
}
