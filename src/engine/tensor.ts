/**
 * Float32 tensors in WebAssembly memory, with a define-by-run reverse-mode autograd.
 *
 * A tensor is a view: a byte offset, a shape and where its bytes live. Temporaries live in the
 * scratch arena and die at `endStep()`; parameters and anything made `persistent` live on the heap.
 * Each op records its parents and a backward closure; `backward()` walks the graph in reverse
 * topological order. Embedding tables receive sparse row gradients instead of dense ones.
 */
import { runtime, type Runtime } from "./runtime.js";

export type Shape = readonly number[];

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Rows of a gradient that touch only some rows of a table: `rows[k]` belongs to table row `indices[k]`. */
export interface SparseRows {
  /** Byte offset of `count` int32 row indices (may repeat). */
  indices: number;
  /** Byte offset of a `count × dim` float32 block. */
  rows: number;
  count: number;
}

type Backward = (grad: Tensor) => void;

let gradEnabled = true;

/** Run `fn` without recording the graph (inference, evaluation, optimiser maths). */
export function noGrad<T>(fn: () => T): T {
  const before = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = before;
  }
}

export function isGradEnabled(): boolean {
  return gradEnabled;
}

export class Tensor {
  readonly rt: Runtime;
  readonly ptr: number;
  readonly shape: Shape;
  readonly size: number;
  /** Arena epoch when allocated in scratch memory; -1 for heap tensors. */
  private readonly epoch: number;

  requiresGrad = false;
  /** Dense gradient, accumulated by backward(). */
  grad: Tensor | null = null;
  /** Sparse row gradients (embedding tables only), accumulated by backward(). */
  sparseGrad: SparseRows[] | null = null;
  /** Set on tables whose gradient must stay sparse. */
  sparse = false;
  /** Human-readable name (parameters), used by optimisers and the file format. */
  name = "";

  parents: readonly Tensor[] = [];
  backwardFn: Backward | null = null;

  constructor(ptr: number, shape: Shape, persistent: boolean, rt: Runtime = runtime()) {
    this.rt = rt;
    this.ptr = ptr;
    this.shape = shape;
    this.size = sizeOf(shape);
    this.epoch = persistent ? -1 : rt.scratch.epoch;
  }

  // ---- construction ---------------------------------------------------------------------------

  /** Uninitialised temporary (scratch) tensor. */
  static empty(shape: Shape): Tensor {
    const rt = runtime();
    return new Tensor(rt.scratch.alloc(sizeOf(shape) * 4), shape, false, rt);
  }

  static zeros(shape: Shape, opts: { persistent?: boolean } = {}): Tensor {
    const rt = runtime();
    const bytes = sizeOf(shape) * 4;
    const ptr = opts.persistent ? rt.allocZeroed(bytes) : rt.scratch.allocZeroed(bytes);
    return new Tensor(ptr, shape, opts.persistent ?? false, rt);
  }

  static from(values: ArrayLike<number>, shape: Shape = [values.length], opts: { persistent?: boolean } = {}): Tensor {
    if (sizeOf(shape) !== values.length) {
      throw new RangeError(`Tensor.from: ${values.length} values do not fill shape [${shape.join(", ")}]`);
    }
    const t = opts.persistent ? Tensor.zeros(shape, opts) : Tensor.empty(shape);
    t.data.set(values);
    return t;
  }

  static scalar(value: number): Tensor {
    return Tensor.from([value], []);
  }

  /** A trainable parameter on the heap. */
  static parameter(shape: Shape, init: (data: Float32Array) => void, name = ""): Tensor {
    const t = Tensor.zeros(shape, { persistent: true });
    init(t.data);
    t.requiresGrad = true;
    t.name = name;
    return t;
  }

  // ---- data access ----------------------------------------------------------------------------

  get persistent(): boolean {
    return this.epoch === -1;
  }

  /** A Float32Array view of the tensor's elements (valid until the memory grows). */
  get data(): Float32Array {
    if (this.epoch !== -1 && this.epoch !== this.rt.scratch.epoch) {
      throw new Error("distillrec: a scratch tensor was used after endStep() released it; use .persist() to keep it");
    }
    return this.rt.f32.subarray(this.ptr >>> 2, (this.ptr >>> 2) + this.size);
  }

  toArray(): number[] {
    return Array.from(this.data);
  }

  item(): number {
    if (this.size !== 1)
      throw new RangeError(`item() needs a one-element tensor, got shape [${this.shape.join(", ")}]`);
    return this.data[0]!;
  }

  /** A heap copy that survives endStep(), detached from the graph. */
  persist(): Tensor {
    const t = Tensor.zeros(this.shape, { persistent: true });
    t.data.set(this.data);
    return t;
  }

  /** Release a persistent tensor's memory (scratch tensors are released by endStep()). */
  dispose(): void {
    if (this.persistent) this.rt.free(this.ptr, this.size * 4);
  }

  /** The same bytes under another shape (no copy); gradients flow through. */
  reshape(shape: Shape): Tensor {
    const out = this.viewAs(resolveShape(shape, this.size));
    return record(out, [this], (g) => accumulate(this, g.viewAs(this.shape)));
  }

  /** A view with another shape and no graph (internal helper for backward passes). */
  viewAs(shape: Shape): Tensor {
    const out = new Tensor(this.ptr, shape, this.persistent, this.rt);
    (out as unknown as { epoch: number }).epoch = this.epoch;
    return out;
  }

  // ---- autograd -------------------------------------------------------------------------------

  /** Back-propagate from this scalar (or from `seed`), accumulating into every leaf's grad. */
  backward(seed?: Tensor): void {
    if (seed === undefined && this.size !== 1) {
      throw new RangeError(`backward() without a seed needs a scalar, got shape [${this.shape.join(", ")}]`);
    }
    const order = topoOrder(this);
    const grads = new Map<Tensor, Tensor>();
    grads.set(this, seed ?? Tensor.from([1], this.shape));
    for (let i = order.length - 1; i >= 0; i--) {
      const node = order[i]!;
      const g = grads.get(node);
      if (!g || !node.backwardFn) continue;
      pending = grads;
      node.backwardFn(g);
    }
    pending = null;
  }
}

/** Gradients of interior nodes during one backward pass; leaves accumulate into `.grad`. */
let pending: Map<Tensor, Tensor> | null = null;

function topoOrder(root: Tensor): Tensor[] {
  const order: Tensor[] = [];
  const seen = new Set<Tensor>();
  // Iterative DFS: deep graphs (long sequences) must not overflow the JS stack.
  const stack: [Tensor, number][] = [[root, 0]];
  seen.add(root);
  while (stack.length) {
    const top = stack[stack.length - 1]!;
    const [node, i] = top;
    if (i < node.parents.length) {
      top[1]++;
      const p = node.parents[i]!;
      if (!seen.has(p) && p.requiresGrad) {
        seen.add(p);
        stack.push([p, 0]);
      }
    } else {
      stack.pop();
      order.push(node);
    }
  }
  return order;
}

/** Attach a backward closure to an op's output when any input needs a gradient. */
export function record(out: Tensor, parents: readonly Tensor[], backward: Backward): Tensor {
  if (!gradEnabled) return out;
  for (const p of parents) {
    if (p.requiresGrad) {
      out.requiresGrad = true;
      out.parents = parents;
      out.backwardFn = backward;
      return out;
    }
  }
  return out;
}

/**
 * Add `g` to the gradient of `t`. Interior nodes collect into the pass's map (the first contribution is
 * kept as is; later ones sum into a fresh buffer, because `g` may be shared with another parent);
 * leaves accumulate into `t.grad`, on the heap for persistent parameters so it survives until the
 * optimiser step.
 */
export function accumulate(t: Tensor, g: Tensor): void {
  if (!t.requiresGrad) return;
  const k = t.rt.kernels;
  if (t.backwardFn && pending) {
    const prev = pending.get(t);
    if (!prev) pending.set(t, g);
    else {
      const sum = Tensor.empty(t.shape);
      k.add(prev.ptr, g.ptr, sum.ptr, t.size);
      pending.set(t, sum);
    }
    return;
  }
  if (!t.grad) {
    t.grad = t.persistent ? Tensor.zeros(t.shape, { persistent: true }) : Tensor.zeros(t.shape);
  }
  k.add(t.grad.ptr, g.ptr, t.grad.ptr, t.size);
}

/** Add sparse rows to a table's gradient. */
export function accumulateSparse(table: Tensor, rows: SparseRows): void {
  if (!table.requiresGrad) return;
  (table.sparseGrad ??= []).push(rows);
}

function resolveShape(shape: Shape, size: number): Shape {
  const free = shape.indexOf(-1);
  if (free === -1) {
    if (sizeOf(shape) !== size) throw new RangeError(`cannot reshape ${size} elements to [${shape.join(", ")}]`);
    return shape;
  }
  const known = sizeOf(shape.filter((_, i) => i !== free));
  if (known === 0 || size % known !== 0)
    throw new RangeError(`cannot reshape ${size} elements to [${shape.join(", ")}]`);
  return shape.map((d, i) => (i === free ? size / known : d));
}

/** Release every scratch tensor of this step (call after the optimiser step). */
export function endStep(): void {
  runtime().scratch.reset();
}
