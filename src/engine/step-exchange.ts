/**
 * Synchronous steps across training threads. Lock-free (Hogwild) updates suit sparse embedding rows, which
 * two threads rarely write at once; a dense weight — a transformer's projections, a LayerNorm, a table
 * updated whole — is written by every step, and two threads racing on it and on its Adam moments train a
 * small model measurably worse and differently from run to run. So for a model with such weights every
 * thread back-propagates its slice of each batch, the workers publish where their gradients are, and the
 * calling thread adds them to its own and takes the one optimiser step: N threads make the update one
 * thread makes on the whole batch, up to the order of float additions and each thread's own random draws.
 *
 * The control block is a shared Int32Array: a header (arrivals, the step's generation, a failure flag),
 * then per worker whether it learned anything and, per parameter, its dense gradient's offset and its
 * sparse rows as one block (offsets of rows and indices, and the count).
 */
import type { Optimizer } from "./optim.js";
import { runtime } from "./runtime.js";
import { Tensor } from "./tensor.js";

const ARRIVED = 0;
const GENERATION = 1;
const FAILED = 2;
const HEADER = 3;
/** Per parameter: dense gradient offset, sparse rows offset, sparse indices offset, sparse row count. */
const PER_PARAM = 4;
/** How long one wait lasts before the failure flag is read again (ms). */
const POLL_MS = 200;
/**
 * Reads of a word before sleeping on it: a small model's step takes tens of microseconds, about what a sleep
 * and a wake-up cost, so a thread first spins briefly on the word the other thread is about to write.
 */
const SPINS = 4000;

/** Wait until `c[index]` is no longer `value`, spinning first; throws when `failed()` says the epoch failed. */
function waitWhile(c: Int32Array, index: number, value: number, failed: () => void): void {
  for (let spin = 0; spin < SPINS; spin++) if (Atomics.load(c, index) !== value) return;
  while (Atomics.load(c, index) === value) {
    failed();
    Atomics.wait(c, index, value, POLL_MS);
  }
}

/** Whether the optimiser's parameters need synchronous steps: any dense weight, or tables updated whole. */
export function needsSynchronousSteps(optimizer: Optimizer): boolean {
  return optimizer.tableUpdates === "dense" || optimizer.params.some((p) => !p.sparse);
}

export class StepExchange {
  private constructor(
    /** The shared control block (sent to the workers). */
    readonly control: Int32Array,
    private readonly params: number,
  ) {}

  /** A control block for `workers` workers besides the calling thread, over `params` parameters each. */
  static create(workers: number, params: number): StepExchange {
    const words = HEADER + workers * (1 + params * PER_PARAM);
    return new StepExchange(new Int32Array(new SharedArrayBuffer(words * 4)), params);
  }

  /** A worker's view of the calling thread's control block. */
  static attach(control: Int32Array, params: number): StepExchange {
    return new StepExchange(control, params);
  }

  private workerBase(thread: number): number {
    return HEADER + (thread - 1) * (1 + this.params * PER_PARAM);
  }

  /** Clear the failure flag and arrivals before an epoch. */
  reset(): void {
    Atomics.store(this.control, ARRIVED, 0);
    Atomics.store(this.control, FAILED, 0);
  }

  /** Tell every waiting thread that this epoch failed, so none waits for a step that will not come. */
  fail(): void {
    Atomics.store(this.control, FAILED, 1);
    Atomics.notify(this.control, ARRIVED);
    Atomics.notify(this.control, GENERATION);
  }

  /**
   * A worker's end of a step: publish its gradients (`learned`: it had a loss), wait until the calling
   * thread has stepped with them, then drop them.
   */
  contribute(thread: number, optimizer: Optimizer, learned: boolean): void {
    const c = this.control;
    const base = this.workerBase(thread);
    c[base] = learned ? 1 : 0;
    optimizer.params.forEach((param, i) => {
      const at = base + 1 + i * PER_PARAM;
      const rows = learned ? joinSparseRows(param) : null;
      c[at] = learned && param.grad ? param.grad.ptr : 0;
      c[at + 1] = rows?.rows ?? 0;
      c[at + 2] = rows?.indices ?? 0;
      c[at + 3] = rows?.count ?? 0;
    });
    const generation = Atomics.load(c, GENERATION);
    Atomics.add(c, ARRIVED, 1);
    Atomics.notify(c, ARRIVED);
    waitWhile(c, GENERATION, generation, () => this.throwIfFailed());
    optimizer.zeroGrad();
  }

  /**
   * The calling thread's end of a step: wait for the `workers` workers, add their gradients to its own,
   * step the optimiser if any thread learned, and release them.
   */
  step(optimizer: Optimizer, workers: number, learned: boolean): void {
    const c = this.control;
    for (let arrived = Atomics.load(c, ARRIVED); arrived < workers; arrived = Atomics.load(c, ARRIVED)) {
      waitWhile(c, ARRIVED, arrived, () => this.throwIfFailed());
    }
    Atomics.store(c, ARRIVED, 0);
    try {
      for (let thread = 1; thread <= workers; thread++) {
        const base = this.workerBase(thread);
        if (c[base] === 0) continue;
        learned = true;
        optimizer.params.forEach((param, i) => absorb(param, c, base + 1 + i * PER_PARAM));
      }
      if (learned) optimizer.step();
      else optimizer.zeroGrad();
    } finally {
      Atomics.add(c, GENERATION, 1);
      Atomics.notify(c, GENERATION);
    }
  }

  private throwIfFailed(): void {
    if (Atomics.load(this.control, FAILED) !== 0) throw new StepExchangeFailed();
  }
}

/** Raised on the threads that wait when another thread's step failed (its own error says why). */
export class StepExchangeFailed extends Error {
  constructor() {
    super("distillrec: another training thread failed during a synchronous step");
    this.name = "StepExchangeFailed";
  }
}

/** A table's sparse gradient parts copied into one block of this step's scratch memory (null if none). */
function joinSparseRows(param: Tensor): { rows: number; indices: number; count: number } | null {
  const parts = param.sparseGrad;
  if (!parts?.length) return null;
  if (parts.length === 1) return parts[0]!;
  const rt = runtime();
  const rowBytes = param.shape[1]! * 4;
  const count = parts.reduce((n, part) => n + part.count, 0);
  const rows = rt.scratch.alloc(count * rowBytes);
  const indices = rt.scratch.alloc(count * 4);
  let done = 0;
  for (const part of parts) {
    rt.u8.copyWithin(rows + done * rowBytes, part.rows, part.rows + part.count * rowBytes);
    rt.u8.copyWithin(indices + done * 4, part.indices, part.indices + part.count * 4);
    done += part.count;
  }
  return { rows, indices, count };
}

/** Add a worker's published gradient of `param` (at control[at..at+3]) to this thread's. */
function absorb(param: Tensor, c: Int32Array, at: number): void {
  const dense = c[at]!;
  if (dense !== 0) {
    param.grad ??= Tensor.zeros(param.shape, { persistent: true });
    param.rt.kernels.add(param.grad.ptr, dense, param.grad.ptr, param.size);
  }
  const count = c[at + 3]!;
  if (count > 0) (param.sparseGrad ??= []).push({ rows: c[at + 1]!, indices: c[at + 2]!, count });
}
