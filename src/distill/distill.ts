/**
 * Training a student with distillation on top of train/'s loop: the soft terms' objective (soft labels
 * and the frozen hint teacher shared with the pool, the distillation program on every thread); weights
 * without soft terms train through train/'s hard-label objective alone.
 */
import { specOf } from "../models/artefact.js";
import type { Recommender } from "../models/recommender.js";
import type { Objective, TrainConfig } from "../train/program.js";
import { train, type TrainOptions, type TrainResult } from "../train/trainer.js";
import type { DistillWeights } from "./losses.js";
import {
  distillProgramUrl,
  hasSoftTerms,
  LIST_ANCHORS,
  SAMPLES_SEEN,
  listAnchors,
  needsSoftLabels,
  needsTeacher,
  shareParameters,
  shareSoftLabels,
  TEACHER_WEIGHTS,
  type DistillConfig,
} from "./program.js";
import type { SoftLabels } from "./soft-labels.js";
import { shareArray } from "../engine/parallel.js";
import type { TrainingData } from "../train/training-data.js";
import {
  checkSequenceOptions,
  sequenceObjective,
  sequenceSamples,
  type SequenceLossOptions,
} from "../train/sequence.js";

/** What the distillation objective learns from. */
export interface DistillSources {
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

/**
 * Options of {@link distill}: train's options, with the distillation weights and what the soft terms learn
 * from; `sequence` trains a sequence student's hard term as next-item training (train/sequence.ts).
 */
export type DistillOptions = Omit<TrainOptions, "weights" | "objective"> &
  DistillSources & { sequence?: SequenceLossOptions };

/**
 * The distillation objective of `sources` for train() on `data`: the distillation program, its config,
 * and the soft labels (rows indexed for `numUsers` users, each anchored to one of the user's samples) and
 * hint teacher's parameters as shared arrays; the hint projection is initialised from `seed`.
 */
export function distillObjective(
  sources: DistillSources,
  data: TrainingData,
  numUsers: number,
  seed: number,
  schedule: { trainingSamples?: number } = {},
  sequence?: { options: SequenceLossOptions; samples: Int32Array },
): Objective {
  const weights = sources.weights ?? { hard: 1 };
  if (needsSoftLabels(weights) && !sources.softLabels) {
    throw new Error("distill: the distillation weights have soft terms but no softLabels were given");
  }
  const teacher = needsTeacher(weights) ? sources.teacher : undefined;
  if (needsTeacher(weights) && !teacher) {
    throw new Error("distill: the distillation weights have a hint term but no teacher was given");
  }
  if (teacher && (weights.hint ?? 0) !== 0 && teacher.representationDim === null) {
    throw new Error(`distill: the teacher (${teacher.kind}) has no representation for hint distillation`);
  }
  const config: Omit<DistillConfig, keyof TrainConfig> = { weights, seed, ...schedule };
  const objective: Objective = { programUrl: distillProgramUrl, config, data: {} };
  if (sequence) {
    config.sequence = { ...checkSequenceOptions(sequence.options), seed };
    objective.samples = sequence.samples;
  }
  if (sources.softLabels) {
    const shared = shareSoftLabels(sources.softLabels, numUsers);
    Object.assign(objective.data!, shared.data);
    objective.data![LIST_ANCHORS] = shareArray(listAnchors(data, numUsers, objective.samples));
    config.labelFields = shared.fields;
  }
  if (teacher) {
    objective.data![TEACHER_WEIGHTS] = shareParameters(teacher);
    config.teacher = { model: specOf(teacher), projectionSeed: seed };
    objective.data![SAMPLES_SEEN] = shareArray(new Int32Array(1));
  }
  return objective;
}

/**
 * Train `options.model` on `options.data`, distilling from `options.softLabels` and `options.teacher` as
 * the weights ask; with no soft term in the weights, train() on the hard labels alone.
 */
export async function distill(options: DistillOptions): Promise<TrainResult> {
  const { weights = { hard: 1 }, softLabels, teacher, sequence, ...rest } = options;
  const histories = rest.context.histories;
  if (sequence && !histories) throw new Error("distill: next-item training needs the users' histories in the context");
  if (!hasSoftTerms(weights)) {
    if (!sequence) return train({ ...rest, weights });
    if ((weights.hard ?? 1) !== 1 || weights.hardLoss !== undefined) {
      throw new Error("distill: next-item training takes no hard-label weights of its own (hard 1, no hardLoss)");
    }
    return train({ ...rest, objective: sequenceObjective(histories!, sequence, rest.seed) });
  }
  // A sequence student's epoch visits each user's last row; the samples, computed once, also time the experts' annealing.
  const nextItem = sequence ? { options: sequence, samples: sequenceSamples(histories!) } : undefined;
  const perEpoch = nextItem ? nextItem.samples.length : rest.data.users.length;
  const objective = distillObjective(
    { weights, softLabels, teacher },
    rest.data,
    rest.context.numUsers,
    rest.seed,
    { trainingSamples: rest.epochs * perEpoch },
    nextItem,
  );
  return train({ ...rest, objective });
}
