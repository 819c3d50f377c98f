/**
 * Hint distillation (FitNets): a trained projection from the student's representation to the frozen
 * teacher's, and the mean squared error between them.
 */
import { Linear, Module } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Rng } from "../engine/random.js";
import { noGrad, type Tensor } from "../engine/tensor.js";
import type { Pairs, Recommender } from "../models/recommender.js";

/** Options of a hint projection. */
export interface HintProjectionOptions {
  seed?: number;
  bias?: boolean;
}

/** FitNets-style regressor from the student's representation width to the teacher's: Linear ds → dt. */
export class HintProjection extends Module {
  readonly linear: Linear;

  constructor(
    readonly studentDim: number,
    readonly teacherDim: number,
    options: HintProjectionOptions = {},
  ) {
    super();
    this.linear = this.child(
      "linear",
      new Linear(studentDim, teacherDim, { rng: new Rng(options.seed ?? 0), bias: options.bias }),
    );
  }

  forward(x: Tensor): Tensor {
    return this.linear.forward(x);
  }
}

/**
 * Hint loss: mse(projection(studentRepr), teacherRepr), mean over every element; `teacherRepr` [n, dt] is
 * a constant, so the gradient reaches the student's representation and the projection only.
 */
export function hintLoss(studentRepr: Tensor, teacherRepr: Float32Array, projection: HintProjection | Linear): Tensor {
  const projected = projection.forward(studentRepr);
  if (teacherRepr.length !== projected.size) {
    throw new RangeError(
      `hintLoss: ${teacherRepr.length} teacher values for a projected representation [${projected.shape.join(", ")}]`,
    );
  }
  return ops.mse(projected, teacherRepr);
}

/** A `DistillExtras.teacherRepresentation` for a teacher model (no graph, values copied out). */
export function teacherRepresentation(teacher: Recommender): (pairs: Pairs) => Float32Array {
  return (pairs) =>
    noGrad(() => {
      const repr = teacher.representation(pairs);
      if (!repr) throw new Error(`teacherRepresentation: the teacher (${teacher.kind}) has no representation`);
      return Float32Array.from(repr.data);
    });
}
