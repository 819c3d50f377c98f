/**
 * Distillation experts (DE; Kang et al., CIKM'20, DE-RRD): a few small experts map the student's embedding
 * of an entity to the teacher's, and a selection network reading the teacher's embedding chooses one
 * expert per entity, so that the student's small space is not asked to hold every region of the teacher's
 * with one map. The choice is a Gumbel-softmax whose temperature is annealed towards 0 over training, so
 * it starts soft (every expert learns) and ends a hard choice. Users and items have their own experts.
 */
import { Linear, Module } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Rng } from "../engine/random.js";
import { Tensor } from "../engine/tensor.js";
import type { DataRng } from "../data/rng.js";

/** One expert: Linear ds → (ds + dt)/2, ReLU, Linear → dt (the paper's shape). */
class Expert extends Module {
  readonly hidden: Linear;
  readonly out: Linear;

  constructor(studentDim: number, teacherDim: number, rng: Rng) {
    super();
    const width = Math.max(1, Math.floor((studentDim + teacherDim) / 2));
    this.hidden = this.child("hidden", new Linear(studentDim, width, { rng }));
    this.out = this.child("out", new Linear(width, teacherDim, { rng }));
  }

  forward(x: Tensor): Tensor {
    return this.out.forward(ops.relu(this.hidden.forward(x)));
  }
}

/** The experts and selection network of one side (users or items). */
export class ExpertGroup extends Module {
  readonly experts: Expert[];
  readonly selection: Linear;

  constructor(
    readonly studentDim: number,
    readonly teacherDim: number,
    readonly count: number,
    rng: Rng,
  ) {
    super();
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`ExpertGroup: count must be ≥ 1, got ${count}`);
    this.experts = Array.from({ length: count }, (_, e) =>
      this.child(`expert${e}`, new Expert(studentDim, teacherDim, rng)),
    );
    this.selection = this.child("selection", new Linear(teacherDim, count, { rng }));
  }

  /**
   * The DE loss of n entities: mean over them of ‖t − Σ_e a_e · expert_e(s)‖², with `student` [n, ds] (a
   * graph tensor), `teacher` [n × dt] constants, and a = softmax((log softmax(selection(t)) + g) / τ) for
   * Gumbel noise g from `rng` (one expert, a = 1, needs no selection).
   */
  loss(student: Tensor, teacher: Float32Array, temperature: number, rng: DataRng): Tensor {
    const n = student.shape[0]!;
    if (teacher.length !== n * this.teacherDim) {
      throw new RangeError(
        `ExpertGroup.loss: ${teacher.length} teacher values for ${n} entities of ${this.teacherDim}`,
      );
    }
    if (!(temperature > 0)) throw new RangeError(`ExpertGroup.loss: temperature must be positive, got ${temperature}`);
    const t = Tensor.from(teacher, [n, this.teacherDim]);
    let mapped: Tensor;
    if (this.count === 1) {
      mapped = this.experts[0]!.forward(student);
    } else {
      const gumbel = Float32Array.from({ length: n * this.count }, () => -Math.log(-Math.log(1 - rng.next() + 1e-20)));
      const logits = ops.add(ops.logSoftmax(this.selection.forward(t)), Tensor.from(gumbel, [n, this.count]));
      const choice = ops.softmax(logits, temperature);
      mapped = this.experts
        .map((expert, e) => ops.mul(expert.forward(student), ops.sliceLastDim(choice, e, e + 1)))
        .reduce((a, b) => ops.add(a, b));
    }
    // mse averages over n · dt elements: × dt gives the mean over entities of the squared distance.
    return ops.scale(ops.mse(mapped, t), this.teacherDim);
  }
}

/** Options of {@link DistillationExperts}. */
export interface ExpertOptions {
  /** Experts per side (default 5, as the paper's). */
  count?: number;
  seed?: number;
}

/** DE's user-side and item-side experts with their selection networks. */
export class DistillationExperts extends Module {
  readonly users: ExpertGroup;
  readonly items: ExpertGroup;

  constructor(studentDim: number, teacherDim: number, options: ExpertOptions = {}) {
    super();
    const rng = new Rng(options.seed ?? 0);
    const count = options.count ?? 5;
    this.users = this.child("users", new ExpertGroup(studentDim, teacherDim, count, rng));
    this.items = this.child("items", new ExpertGroup(studentDim, teacherDim, count, rng));
  }
}

/**
 * The annealed selection temperature after `progress` ∈ [0, 1] of training: τ0 · (τ_end / τ0)^progress,
 * from 1 to 1e-10 by default (DE-RRD's schedule: soft at first, a hard choice by the end).
 */
export function expertTemperature(progress: number, start = 1, end = 1e-10): number {
  const p = Math.min(1, Math.max(0, progress));
  return start * (end / start) ** p;
}
