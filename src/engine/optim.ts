/**
 * Optimisers: SGD (momentum, Nesterov), Adagrad, Adam and AdamW, following torch.optim's algorithms.
 *
 * Every update is one fused SIMD kernel call per parameter that rewrites the parameter and its state in
 * place and zeroes the consumed gradient. Embedding tables marked `sparse` are updated row-wise: their
 * sparse gradient parts are coalesced (rows sharing an id are summed) and only the touched rows of the
 * table and of its state change, so a step costs O(batch × dim) whatever the vocabulary size. This is
 * "lazy" for stateful rules, as in PyTorch with sparse gradients: SGD momentum and weight decay, Adagrad
 * weight decay and Adam's moments only advance on rows the batch touched (lazy Adam = torch SparseAdam,
 * with bias correction from the optimiser's global step count). With `tableUpdates: "dense"` a table's
 * rows are scattered into a dense gradient and every row is updated every step, as torch.optim does for an
 * nn.Embedding without `sparse=True`: weight decay then shrinks every row each step, moments decay on rows
 * the batch missed, and the cost is the table's size per step.
 *
 * All state is allocated in the constructor, in a fixed order (for each parameter in order, its state
 * tensors by kind), because worker threads rebuild the optimiser over shared memory by replaying
 * allocations (Runtime.replayAllocations). A sparse table's coalescing slot array is scratch, not state:
 * each thread allocates its own on first use, so lock-free threads never coalesce into each other's.
 */
import type { AdamStep } from "./kernel-table.js";
import { Tensor, type SparseRows } from "./tensor.js";

/** Options shared by every optimiser. */
export interface OptimizerOptions {
  /** Learning rate (schedules change it through `optimizer.lr`). */
  lr: number;
  weightDecay?: number;
  /** How tables with sparse gradients are updated: only the batch's rows (default) or every row. */
  tableUpdates?: TableUpdates;
}

/** "lazy": only the rows a batch touched (torch SparseAdam); "dense": every row every step (torch Adam). */
export const TABLE_UPDATES = ["lazy", "dense"] as const;
export type TableUpdates = (typeof TABLE_UPDATES)[number];

/** One kind of per-parameter state: a tensor shaped like the parameter, filled with `initial`. */
export interface StateKind {
  name: string;
  initial: number;
}

export abstract class Optimizer {
  /** Learning rate of the next step. */
  lr: number;
  readonly weightDecay: number;
  readonly tableUpdates: TableUpdates;
  /** Completed step() calls; Adam's bias correction uses it. Restore it along with the state tensors. */
  stepCount = 0;
  readonly params: readonly Tensor[];
  /** state[i][k]: state of kind k for params[i]. */
  protected readonly state: readonly (readonly Tensor[])[];
  /**
   * For each table sparse when the optimiser was built, this thread's [rows] int32 id → unique-row slot array
   * (coalesceRows), 0 until first used; null for the other parameters.
   */
  private readonly slots: (number | null)[];
  private readonly stateKinds: readonly StateKind[];

  constructor(params: Tensor[], options: OptimizerOptions, stateKinds: readonly StateKind[] = []) {
    checkNonNegative("lr", options.lr);
    this.lr = options.lr;
    this.weightDecay = options.weightDecay ?? 0;
    checkNonNegative("weightDecay", this.weightDecay);
    this.tableUpdates = options.tableUpdates ?? "lazy";
    if (!TABLE_UPDATES.includes(this.tableUpdates)) {
      throw new RangeError(`optimizer: tableUpdates must be "lazy" or "dense", got ${String(this.tableUpdates)}`);
    }
    if (new Set(params).size !== params.length) throw new Error("optimizer: a parameter is listed twice");
    this.params = params.slice();
    this.stateKinds = stateKinds;
    const state: Tensor[][] = [];
    for (const param of this.params) {
      if (!param.persistent) throw new Error(`optimizer: parameter ${describe(param)} is not persistent`);
      if (param.sparse && param.shape.length !== 2) {
        throw new RangeError(`optimizer: sparse parameter ${describe(param)} must be a [rows, dim] table`);
      }
      state.push(
        stateKinds.map(({ name, initial }) => {
          const t = Tensor.zeros(param.shape, { persistent: true });
          if (initial !== 0) t.data.fill(initial);
          t.name = param.name ? `${param.name}.${name}` : name;
          return t;
        }),
      );
    }
    this.state = state;
    this.slots = this.params.map((param) => (param.sparse ? 0 : null));
  }

  /**
   * Apply one update from the accumulated gradients, then consume them: dense gradients are zeroed
   * (the buffers are kept) and sparse gradients dropped. Call before endStep(), which frees the
   * scratch memory that sparse gradients live in.
   */
  step(): void {
    this.stepCount++;
    this.beforeStep();
    this.params.forEach((param, i) => {
      const parts = param.sparseGrad;
      param.sparseGrad = null;
      // Allocated on this thread after the build (like any dense gradient), so never shared with workers.
      if (parts?.length && !param.grad && this.tableUpdates === "dense") {
        param.grad = Tensor.zeros(param.shape, { persistent: true });
      }
      if (parts?.length && !param.grad) {
        this.updateSparse(i, parts);
      } else if (param.grad) {
        // A table may also have received a dense gradient: fold its rows in and take the dense path.
        for (const part of parts ?? []) {
          param.rt.kernels.scatterAdd(part.rows, part.indices, part.count, param.shape[1]!, param.grad.ptr);
        }
        this.updateDense(i, param, param.grad);
      }
    });
  }

  /** Discard accumulated gradients without updating: zero dense gradients, drop sparse ones. */
  zeroGrad(): void {
    for (const param of this.params) {
      if (param.grad) param.rt.kernels.fill(param.grad.ptr, 0, param.grad.size);
      param.sparseGrad = null;
    }
  }

  /**
   * Return rows of a [rows, dim] parameter's state to their initial values: a table row that now stands for
   * another id (online learning recycles rows) must not inherit the old id's moments.
   */
  resetRows(param: Tensor, rows: Iterable<number>): void {
    const index = this.params.indexOf(param);
    if (index < 0) throw new Error(`optimizer: ${describe(param)} is not one of its parameters`);
    const dim = param.shape[1];
    if (param.shape.length !== 2 || dim === undefined) {
      throw new RangeError(`optimizer: resetRows needs a [rows, dim] parameter, got ${describe(param)}`);
    }
    const height = param.shape[0]!;
    for (const row of rows) {
      if (!(Number.isInteger(row) && row >= 0 && row < height)) {
        throw new RangeError(`optimizer: row ${row} is outside ${describe(param)}'s ${height} rows`);
      }
      this.stateKinds.forEach(({ initial }, k) =>
        this.state[index]![k]!.data.fill(initial, row * dim, (row + 1) * dim),
      );
    }
  }

  /** Every state tensor, in allocation order (for each parameter, its state kinds in order). */
  stateTensors(): Tensor[] {
    return this.state.flat();
  }

  /** Per-step preparation before any parameter is updated (e.g. bias corrections). */
  protected beforeStep(): void {}

  /** Update all of `param` from its dense gradient, and zero the gradient. */
  protected abstract updateDense(index: number, param: Tensor, grad: Tensor): void;

  /**
   * Update `count` rows of the table params[index]: `ids` is the byte offset of their int32 row ids and
   * `grads` of their u32 gradient-row byte offsets (each row id appears once).
   */
  protected abstract updateRows(index: number, param: Tensor, ids: number, grads: number, count: number): void;

  private updateSparse(index: number, parts: readonly SparseRows[]): void {
    const param = this.params[index]!;
    if (this.slots[index] === null) {
      throw new Error(
        `optimizer: ${describe(param)} has sparse gradients but was not sparse when the optimizer was built`,
      );
    }
    const [rows, dim] = param.shape as [number, number];
    const rt = param.rt;
    // Any initial contents are valid slots (a sparse set), so the block is not even cleared.
    const slots = (this.slots[index] ||= rt.alloc(rows * 4));
    let total = 0;
    for (const part of parts) total += part.count;
    const ids = rt.scratch.alloc(total * 4);
    const grads = rt.scratch.alloc(total * 4);
    const copies = rt.scratch.alloc(Math.floor(total / 2) * dim * 4);
    const counters = rt.scratch.allocZeroed(8);
    for (const part of parts) {
      const bad = rt.kernels.coalesceRows(
        part.indices,
        part.rows,
        part.count,
        dim,
        rows,
        slots,
        ids,
        grads,
        copies,
        counters,
      );
      if (bad !== 0) {
        const id = rt.i32[(part.indices >>> 2) + bad - 1];
        throw new RangeError(`optimizer: sparse gradient row ${id} is outside ${describe(param)}'s ${rows} rows`);
      }
    }
    this.updateRows(index, param, ids, grads, rt.i32[counters >>> 2]!);
  }
}

export interface SGDOptions extends OptimizerOptions {
  momentum?: number;
  nesterov?: boolean;
}

/**
 * Stochastic gradient descent as torch.optim.SGD (dampening 0): g = grad + wd·p; with momentum
 * b = μ·b + g and g = nesterov ? g + μ·b : b; p -= lr·g. On sparse tables momentum and weight decay
 * only touch the rows in the batch.
 */
export class SGD extends Optimizer {
  readonly momentum: number;
  readonly nesterov: boolean;

  constructor(params: Tensor[], options: SGDOptions) {
    const momentum = options.momentum ?? 0;
    checkNonNegative("momentum", momentum);
    if (options.nesterov && momentum === 0) throw new RangeError("SGD: nesterov needs a positive momentum");
    super(params, options, momentum > 0 ? [{ name: "momentum", initial: 0 }] : []);
    this.momentum = momentum;
    this.nesterov = options.nesterov ?? false;
  }

  protected override updateDense(index: number, param: Tensor, grad: Tensor): void {
    param.rt.kernels.sgdDense(
      param.ptr,
      grad.ptr,
      this.buffer(index),
      param.size,
      this.lr,
      this.weightDecay,
      this.momentum,
      this.nesterov ? 1 : 0,
    );
  }

  protected override updateRows(index: number, param: Tensor, ids: number, grads: number, count: number): void {
    param.rt.kernels.sgdRows(
      param.ptr,
      param.shape[1]!,
      ids,
      grads,
      count,
      this.buffer(index),
      this.lr,
      this.weightDecay,
      this.momentum,
      this.nesterov ? 1 : 0,
    );
  }

  /** The momentum buffer's offset, or 0 without momentum (the kernel does not read it then). */
  private buffer(index: number): number {
    return this.state[index]![0]?.ptr ?? 0;
  }
}

export interface AdagradOptions extends OptimizerOptions {
  eps?: number;
  initialAccumulator?: number;
}

/** Adagrad as torch.optim.Adagrad (no lr decay): g = grad + wd·p; s += g²; p -= lr·g / (√s + eps). */
export class Adagrad extends Optimizer {
  readonly eps: number;

  constructor(params: Tensor[], options: AdagradOptions) {
    const initial = options.initialAccumulator ?? 0;
    checkNonNegative("initialAccumulator", initial);
    super(params, options, [{ name: "sum", initial }]);
    this.eps = options.eps ?? 1e-10;
  }

  protected override updateDense(index: number, param: Tensor, grad: Tensor): void {
    const sum = this.state[index]![0]!;
    param.rt.kernels.adagradDense(param.ptr, grad.ptr, sum.ptr, param.size, this.lr, this.eps, this.weightDecay);
  }

  protected override updateRows(index: number, param: Tensor, ids: number, grads: number, count: number): void {
    const sum = this.state[index]![0]!;
    param.rt.kernels.adagradRows(
      param.ptr,
      param.shape[1]!,
      ids,
      grads,
      count,
      sum.ptr,
      this.lr,
      this.eps,
      this.weightDecay,
    );
  }
}

export interface AdamOptions extends OptimizerOptions {
  beta1?: number;
  beta2?: number;
  eps?: number;
}

/**
 * Adam as torch.optim.Adam, with L2 weight decay added to the gradient. Sparse tables get lazy Adam
 * (torch.optim.SparseAdam): only touched rows' moments advance, bias-corrected with the global stepCount.
 */
export class Adam extends Optimizer {
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  /** Kernel constants for the current step, computed in float64 once per step. */
  private stepSize = 0;
  private invSqrtBc2 = 0;

  constructor(params: Tensor[], options: AdamOptions) {
    super(params, options, [
      { name: "m", initial: 0 },
      { name: "v", initial: 0 },
    ]);
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
    for (const [name, beta] of [
      ["beta1", this.beta1],
      ["beta2", this.beta2],
    ] as const) {
      if (!(beta >= 0 && beta < 1)) throw new RangeError(`Adam: ${name} must be in [0, 1), got ${beta}`);
    }
  }

  protected override beforeStep(): void {
    this.stepSize = this.lr / (1 - this.beta1 ** this.stepCount);
    this.invSqrtBc2 = 1 / Math.sqrt(1 - this.beta2 ** this.stepCount);
  }

  /** Weight decay folded into the gradient (Adam) — AdamW overrides both decay terms. */
  protected l2(): number {
    return this.weightDecay;
  }

  /** Factor the parameter is multiplied by before the update (decoupled decay; 1 for Adam). */
  protected shrink(): number {
    return 1;
  }

  /** This step's constants for the Adam kernels, the same for dense and sparse updates. */
  private adamStep(): AdamStep {
    const { stepSize, beta1, beta2, invSqrtBc2, eps } = this;
    return [stepSize, beta1, 1 - beta1, beta2, 1 - beta2, invSqrtBc2, eps, this.l2(), this.shrink()];
  }

  protected override updateDense(index: number, param: Tensor, grad: Tensor): void {
    const [m, v] = this.state[index] as [Tensor, Tensor];
    param.rt.kernels.adamDense(param.ptr, grad.ptr, m.ptr, v.ptr, param.size, ...this.adamStep());
  }

  protected override updateRows(index: number, param: Tensor, ids: number, grads: number, count: number): void {
    const [m, v] = this.state[index] as [Tensor, Tensor];
    param.rt.kernels.adamRows(param.ptr, param.shape[1]!, ids, grads, count, m.ptr, v.ptr, ...this.adamStep());
  }
}

/**
 * AdamW as torch.optim.AdamW (default weightDecay 0.01): decoupled decay p *= 1 - lr·wd before the Adam
 * update. On sparse tables only the touched rows decay.
 */
export class AdamW extends Adam {
  constructor(params: Tensor[], options: AdamOptions) {
    super(params, { ...options, weightDecay: options.weightDecay ?? 0.01 });
  }

  protected override l2(): number {
    return 0;
  }

  protected override shrink(): number {
    return 1 - this.lr * this.weightDecay;
  }
}

function checkNonNegative(name: string, value: number): void {
  if (!(value >= 0 && Number.isFinite(value))) throw new RangeError(`optimizer: ${name} must be ≥ 0, got ${value}`);
}

function describe(param: Tensor): string {
  return param.name ? `"${param.name}"` : `[${param.shape.join(", ")}]`;
}
