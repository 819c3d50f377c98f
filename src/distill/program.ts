/**
 * The distillation objective as a training program (train/program.ts): a student's soft labels travel
 * along the samples as shared arrays (`label.<field>`), with `listRowOfUser` mapping a user to its
 * soft-label row (−1: none) and `listAnchorOfUser` naming the one interaction of the user whose batch
 * takes the user's list terms: each list is used once per epoch, whatever the user's activity, and
 * weighs as one sample does (the list terms are summed over the batch's lists and divided by its samples). For hint distillation the teacher's parameters travel as one shared array
 * (`teacherWeights`): every thread rebuilds the frozen teacher beside the student, with a trained
 * projection between their representations. Each step's loss is distillationLoss of the batch (the hard
 * labels, a multi-task model's task labels, and every enabled soft term).
 */
import type { SharedData, TrainProgram } from "../engine/parallel.js";
import { shareArray } from "../engine/parallel.js";
import type { Module } from "../engine/nn.js";
import { createModel, type ModelSpec } from "../models/zoo.js";
import type { Recommender } from "../models/recommender.js";
import { trainingProgram, type TrainConfig, type Trainer } from "../train/program.js";
import { sequenceHardLoss, type SequenceSettings } from "../train/sequence.js";
import * as ops from "../engine/ops/index.js";
import type { Tensor } from "../engine/tensor.js";
import type { TrainBatch } from "../train/losses.js";
import { DataRng } from "../data/rng.js";
import { isDotProduct } from "../models/dot-product.js";
import { historyPopularity } from "../models/context.js";
import { DistillationExperts, expertTemperature } from "./experts.js";
import { TeacherVectors } from "./teacher-vectors.js";
import { HintProjection, teacherRepresentation } from "./hint.js";
import { distillationLoss, distinctRows, scaleListTerms, type DistillExtras, type DistillWeights } from "./losses.js";
import type { SoftLabels } from "./soft-labels.js";

/** The plain (structured-cloneable) config of the program. */
export interface DistillConfig extends TrainConfig {
  weights: DistillWeights;
  /** Seeds each thread's relaxed-ranking samples (default 0). */
  seed?: number;
  /** The soft labels' fields that are not shared arrays (list length, top-k, kinds, …); absent without labels. */
  labelFields?: Record<string, unknown>;
  /**
   * The hint term's teacher, needed when `weights.hint` ≠ 0: built over `context` like the student (the
   * batch's history ends must mean the same to both), its parameters from the shared `teacherWeights`.
   */
  teacher?: {
    model: ModelSpec;
    /** Seeds the hint projection's (and the experts') initialisation (default 0). */
    projectionSeed?: number;
  };
  /**
   * The student's hard term as next-item training (a sequence student: train/sequence.ts) instead of
   * pairwise, weighted by `weights.hard`; the samples are then each user's last training row.
   */
  sequence?: SequenceSettings;
  /** Samples the whole run trains on (epochs × samples per epoch): the experts' temperature anneals over them. */
  trainingSamples?: number;
}

/** What the program builds on every thread. */
export interface DistillTrainer extends Trainer {
  /** The frozen teacher of the hint term (absent without hints). */
  teacher?: Recommender;
  /** The trained regressor from the student's representation to the teacher's (absent without hints). */
  projection?: HintProjection;
  /** The trained distillation experts (absent without the experts term). */
  experts?: DistillationExperts;
}

/** Prefix of the soft labels' array fields in the shared data. */
export const LABEL_PREFIX = "label.";
/** The shared data's key of each user's anchor item (−1: none), see {@link listAnchors}. */
export const LIST_ANCHORS = "listAnchorOfUser";
/** The shared data's key of the samples trained so far, over every thread (the experts' annealing clock). */
export const SAMPLES_SEEN = "samplesSeen";
/** The shared data's key of the hint teacher's parameters, concatenated in `parameters()` order. */
export const TEACHER_WEIGHTS = "teacherWeights";

/** The loss terms that need soft labels. */
export const LIST_TERMS = ["pointwise", "listwise", "ranking", "relaxedRanking", "unkd", "multiTask"] as const;
/** The loss terms that need a teacher signal (soft labels, or the teacher itself for hints). */
export const SOFT_TERMS = [...LIST_TERMS, "hint", "experts", "topology"] as const;

/** Whether any term of `weights` needs a teacher signal (soft labels, or the teacher itself for hints). */
export function hasSoftTerms(weights: DistillWeights): boolean {
  return SOFT_TERMS.some((term) => (weights[term] ?? 0) !== 0);
}

/** Whether any term of `weights` needs soft labels. */
export function needsSoftLabels(weights: DistillWeights): boolean {
  return LIST_TERMS.some((term) => (weights[term] ?? 0) !== 0);
}

/** Whether `weights` ask for the hint, experts or topology term, which need the teacher model in training. */
export function needsTeacher(weights: DistillWeights): boolean {
  return (weights.hint ?? 0) !== 0 || (weights.experts ?? 0) !== 0 || (weights.topology ?? 0) !== 0;
}

/**
 * Whether `weights` only ask for the hard BPR term with weight 1 (the defaults of `hard` and `hardLoss`):
 * then training is plain pairwise training, unless a multi-task model has task labels to learn.
 */
export function isPureHard(weights: DistillWeights): boolean {
  return (weights.hard ?? 1) === 1 && (weights.hardLoss ?? "bpr") === "bpr" && !hasSoftTerms(weights);
}

/** A model's parameters concatenated in `parameters()` order, in shared memory (for `teacherWeights`). */
export function shareParameters(model: Module): Float32Array {
  const params = model.parameters();
  const out = new Float32Array(new SharedArrayBuffer(params.reduce((n, p) => n + p.size, 0) * 4));
  let at = 0;
  for (const p of params) {
    out.set(p.data, at);
    at += p.size;
  }
  return out;
}

/** Copy `values` (as from shareParameters) into the teacher's parameters. */
function loadTeacher(teacher: Recommender, values: Float32Array): void {
  const params = teacher.parameters();
  const total = params.reduce((n, p) => n + p.size, 0);
  if (total !== values.length) {
    throw new RangeError(
      `distill program: ${values.length} teacher parameters were shared, but its spec over this context has ${total}`,
    );
  }
  let at = 0;
  for (const p of params) {
    p.data.set(values.subarray(at, at + p.size));
    at += p.size;
  }
}

/**
 * The frozen teacher of the hint and experts terms with their trained parts (the hint's projection, the
 * experts), built right after the student so that every thread allocates them in the same order.
 */
function buildTeacherTerms(
  config: DistillConfig,
  data: SharedData,
  student: Recommender,
  thread: number,
): TeacherParts & { teacher: Recommender } {
  if (!config.teacher) throw new Error("distill program: hint, experts or topology weights given without a teacher");
  const weights = data[TEACHER_WEIGHTS];
  if (!(weights instanceof Float32Array)) {
    throw new Error(
      `distill program: hint, experts or topology weights given without the teacher's parameters (${TEACHER_WEIGHTS})`,
    );
  }
  const teacher = createModel(config.teacher.model, config.context);
  // A worker's teacher tensors are thread 0's blocks (replayed allocations), which already hold the
  // weights, and replay restores whatever a worker's build writes into them: only thread 0 copies.
  if (thread === 0) loadTeacher(teacher, weights);
  teacher.eval();
  const seed = config.teacher.projectionSeed ?? 0;
  const parts: TeacherParts & { teacher: Recommender } = { teacher };
  if ((config.weights.hint ?? 0) !== 0) parts.projection = hintProjection(teacher, student, seed);
  if (readsTeacherVectors(config.weights)) {
    const experts = (config.weights.experts ?? 0) !== 0;
    if (!isDotProduct(teacher) || !isDotProduct(student)) {
      throw new Error(
        `distill program: ${experts ? "experts" : "topology"} need dot-product teacher and student (${teacher.kind}, ${student.kind})`,
      );
    }
    if (experts) {
      parts.experts = new DistillationExperts(student.dim, teacher.dim, { count: config.weights.expertCount, seed });
    }
  }
  return parts;
}

/** Whether `weights` ask for a term that reads the teacher's user and item vectors (experts, topology). */
function readsTeacherVectors(weights: DistillWeights): boolean {
  return (weights.experts ?? 0) !== 0 || (weights.topology ?? 0) !== 0;
}

/** The hint's trained projection from the student's representation to the teacher's. */
function hintProjection(teacher: Recommender, student: Recommender, seed: number): HintProjection {
  const teacherDim = teacher.representationDim;
  const studentDim = student.representationDim;
  if (teacherDim === null) {
    throw new Error(`distill program: the teacher (${teacher.kind}) has no representation for hint distillation`);
  }
  if (studentDim === null) {
    throw new Error(`distill program: the student (${student.kind}) has no representation for hint distillation`);
  }
  return new HintProjection(studentDim, teacherDim, { seed });
}

/** The typed arrays a pool can share. */
type Shareable = Int32Array | Float32Array | Float64Array | Uint8Array;

function isShareable(value: unknown): value is Shareable {
  return (
    value instanceof Int32Array ||
    value instanceof Float32Array ||
    value instanceof Float64Array ||
    value instanceof Uint8Array
  );
}

/**
 * Split soft labels for a pool: their typed arrays become shared arrays under `label.<field>` (and
 * `label.<field>.<key>` for records of arrays such as taskScores), plus `listRowOfUser` (numUsers entries:
 * the user's soft-label row, −1 for none); the remaining plain fields (listLength, topK, …) go to the config.
 */
export function shareSoftLabels(
  labels: SoftLabels,
  numUsers: number,
): { data: SharedData; fields: Record<string, unknown> } {
  const data: SharedData = {};
  const fields: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(labels as unknown as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (isShareable(value)) {
      data[LABEL_PREFIX + name] = shareArray(value);
    } else if (
      typeof value === "object" &&
      value !== null &&
      Object.values(value).length > 0 &&
      Object.values(value).every(isShareable)
    ) {
      for (const [key, values] of Object.entries(value as Record<string, Shareable>)) {
        data[`${LABEL_PREFIX}${name}.${key}`] = shareArray(values);
      }
    } else {
      fields[name] = value;
    }
  }
  const listRowOfUser = new Int32Array(numUsers).fill(-1);
  labels.users.forEach((user, row) => {
    if (user >= 0 && user < numUsers) listRowOfUser[user] = row;
  });
  data.listRowOfUser = shareArray(listRowOfUser);
  return { data, fields };
}

/** Reassemble the soft labels from a pool's shared data and config (the inverse of shareSoftLabels). */
export function softLabelsFrom(data: SharedData, fields: Record<string, unknown>): SoftLabels {
  const labels: Record<string, unknown> = { ...fields };
  for (const [key, value] of Object.entries(data)) {
    if (!key.startsWith(LABEL_PREFIX)) continue;
    const path = key.slice(LABEL_PREFIX.length);
    const dot = path.indexOf(".");
    if (dot < 0) {
      labels[path] = value;
    } else {
      const group = (labels[path.slice(0, dot)] ??= {}) as Record<string, unknown>;
      group[path.slice(dot + 1)] = value;
    }
  }
  return labels as unknown as SoftLabels;
}

/** The teacher terms' parts on a thread: the frozen teacher, the hint's projection, the experts. */
type TeacherParts = Pick<DistillTrainer, "teacher" | "projection" | "experts">;

export const program: TrainProgram<DistillConfig, DistillTrainer> = trainingProgram<DistillConfig, TeacherParts>(
  (config, data, model, thread) => {
    const { weights } = config;
    const parts = needsTeacher(weights) ? buildTeacherTerms(config, data, model, thread) : null;
    const lists = needsSoftLabels(weights);
    const labels = config.labelFields ? softLabelsFrom(data, config.labelFields) : null;
    const listRowOfUser = data.listRowOfUser as Int32Array | undefined;
    const anchors = data[LIST_ANCHORS] as Int32Array | undefined;
    if (lists && !(labels && listRowOfUser && anchors)) {
      throw new Error("distill program: soft-label weights given without soft labels (and their anchors)");
    }
    // Each thread draws its own relaxed-ranking samples.
    const rng = new DataRng(Math.imul(config.seed ?? 0, 0x9e3779b1) ^ (thread + 1));
    const extras: DistillExtras = { rng };
    if ((weights.unkd ?? 0) !== 0) {
      if (!config.context.histories) throw new Error("distill program: the unkd term needs the training histories");
      extras.itemPopularity = historyPopularity(config.context.histories, config.context.numItems);
    }
    // buildTeacherTerms has checked that such a teacher is a dot-product model.
    if (parts && readsTeacherVectors(weights) && isDotProduct(parts.teacher)) {
      extras.teacherVectors = new TeacherVectors(parts.teacher, config.context.numUsers, config.context.numItems);
    }
    if (parts?.projection) {
      extras.teacherRepresentation = teacherRepresentation(parts.teacher);
      extras.projection = parts.projection;
    }
    const seen = data[SAMPLES_SEEN] as Int32Array | undefined;
    const alpha = weights.hard ?? 1;
    // Terms that learn from every batch, whether or not its users have soft-label lists.
    const hardTasks = (weights.hardTasks ?? 1) !== 0 && model.tasks.length > 1 && data.conversions !== undefined;
    const everyBatch = parts !== null || hardTasks;
    const batchTerms = alpha !== 0 || everyBatch;
    const trained = [...(parts?.projection?.parameters() ?? []), ...(parts?.experts?.parameters() ?? [])];
    // A sequence student's hard term is next-item training over its window, added beside the soft terms.
    const nextItem = config.sequence ? sequenceHardLoss(config.context, model, config.sequence, thread) : null;
    const softWeights = nextItem ? { ...weights, hard: 0 } : weights;
    return {
      // The teacher stays out of the optimiser (frozen); the projection and the experts learn with the student.
      ...(parts ? { trained, fields: parts } : {}),
      loss(batch) {
        /** distillationLoss of the batch, its list terms (if any) over the lists it anchors. */
        const softLoss = (b: TrainBatch, rows: Int32Array | null, w: DistillWeights): Tensor => {
          if (!rows) return distillationLoss(model, b, labels, w, extras).total;
          // Per list as per sample: the lists' sum over the batch's samples (DE-RRD's Σ BPR + λ Σ RRD, per sample).
          const perSample = scaleListTerms(w, rows.length / b.users.length);
          return distillationLoss(model, { ...b, lists: { rows } }, labels, perSample, extras).total;
        };
        if (parts?.experts) {
          // The selection temperature anneals with the share of the run's samples trained so far.
          const done = seen ? Atomics.add(seen, 0, batch.users.length) : 0;
          const temperature = expertTemperature(done / Math.max(1, config.trainingSamples ?? 1));
          extras.experts = { module: parts.experts, temperature };
        }
        const rows = lists ? anchoredListRows(batch, listRowOfUser!, anchors!) : null;
        if (nextItem) {
          const hard = alpha === 0 ? null : nextItem(batch);
          const soft = (rows?.length ?? 0) > 0 || everyBatch ? softLoss(batch, rows, softWeights) : null;
          const weighted = hard && alpha !== 1 ? ops.scale(hard, alpha) : hard;
          return weighted && soft ? ops.add(weighted, soft) : (weighted ?? soft);
        }
        // A pure soft-label objective has nothing to learn from a batch whose users have no list.
        if (rows?.length === 0 && !batchTerms) return null;
        return softLoss(batch, rows, weights);
      },
    };
  },
);

/**
 * Each user's anchor: the positive of its first sample in `data` (of `samples`, the ones an epoch visits, when
 * given; −1 for a user without samples). The
 * batch holding a user's anchor sample takes the user's list terms, so that every list is used once per
 * epoch (as DE-RRD and Tang & Wang weigh users: not by how many interactions they have), wherever the
 * shuffled order puts it.
 */
export function listAnchors(
  data: { users: Int32Array; positives: Int32Array },
  numUsers: number,
  samples?: Int32Array,
): Int32Array {
  const anchors = new Int32Array(numUsers).fill(-1);
  const count = samples ? samples.length : data.users.length;
  for (let k = count - 1; k >= 0; k--) {
    const s = samples ? samples[k]! : k;
    const user = data.users[s]!;
    if (user >= 0 && user < numUsers) anchors[user] = data.positives[s]!;
  }
  return anchors;
}

/** The soft-label rows of the batch's users whose anchor sample it holds, in order of first appearance. */
export function anchoredListRows(
  batch: { users: Int32Array; positives: Int32Array },
  listRowOfUser: Int32Array,
  anchors: Int32Array,
): Int32Array {
  return distinctRows(
    Array.from(batch.users, (user, k) =>
      user < listRowOfUser.length && anchors[user] === batch.positives[k] ? listRowOfUser[user]! : -1,
    ),
  );
}

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const distillProgramUrl = import.meta.url;
