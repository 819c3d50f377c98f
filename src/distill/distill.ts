/**
 * Training a student by distillation: the training loop of src/train with the distillation program as its
 * objective. The teacher's soft labels travel to every thread as shared arrays; for hint distillation the
 * teacher itself runs inside the pool, frozen, from a shared copy of its parameters.
 */
import { specOf } from "../models/artefact.js";
import type { Recommender } from "../models/recommender.js";
import { train, type TrainOptions, type TrainResult } from "../train/trainer.js";
import type { DistillWeights } from "./losses.js";
import {
  distillProgramUrl,
  needsSoftLabels,
  needsTeacher,
  shareParameters,
  shareSoftLabels,
  TEACHER_WEIGHTS,
} from "./program.js";
import type { SoftLabels } from "./soft-labels.js";

/** Options of {@link distill}: the training loop's, and what the student learns from. */
export interface DistillOptions extends TrainOptions {
  /** Loss weights (default {hard: 1}: plain BPR, and a multi-task model's extra heads learn the task labels). */
  weights?: DistillWeights;
  /** The teacher's soft labels (needed when `weights` has list terms). */
  softLabels?: SoftLabels;
  /**
   * The trained teacher (needed when `weights.hint` ≠ 0): a zoo model with a representation, rebuilt from
   * its spec and parameters inside the pool and never updated.
   */
  teacher?: Recommender;
}

/** Train `options.model` on `options.data` with the distillation objective of `options.weights`. */
export async function distill(options: DistillOptions): Promise<TrainResult> {
  const { weights = { hard: 1 }, softLabels, teacher: given, ...loop } = options;
  if (needsSoftLabels(weights) && !softLabels) {
    throw new Error("distill: the distillation weights have soft terms but no softLabels were given");
  }
  const teacher = needsTeacher(weights) ? given : undefined;
  if (needsTeacher(weights) && !teacher) {
    throw new Error("distill: the distillation weights have a hint term but no teacher was given");
  }
  if (teacher && teacher.representationDim === null) {
    throw new Error(`distill: the teacher (${teacher.kind}) has no representation for hint distillation`);
  }
  const config: Record<string, unknown> = { weights };
  const data: NonNullable<TrainOptions["objective"]>["data"] = {};
  if (softLabels) {
    const shared = shareSoftLabels(softLabels, options.context.numUsers);
    Object.assign(data, shared.data);
    config.labelFields = shared.fields;
  }
  if (teacher) {
    data[TEACHER_WEIGHTS] = shareParameters(teacher);
    config.teacher = { model: specOf(teacher), projectionSeed: options.seed };
  }
  return train({ ...loop, objective: { programUrl: distillProgramUrl, config, data } });
}
