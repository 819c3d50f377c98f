/**
 * The training program for teachers and students alike (see engine/parallel.ts): samples are the shared
 * (user, positive, negative, historyEnd) arrays of training-data.ts; a student's soft labels travel along
 * as shared arrays (`label.<field>`), with `listRowOfUser` mapping a user to its soft-label row (−1: none).
 * For hint distillation the teacher's parameters travel as one shared array (`teacherWeights`): every
 * thread rebuilds the frozen teacher beside the student, with a trained projection between their
 * representations. Each step computes distillationLoss for the batch, back-propagates and takes an
 * optimiser step. When the shared data has task labels (`conversions`), a multi-task model's extra heads
 * also learn them (the `hardTasks` term). With pure hard-label weights ({hard: 1}) and a single-head model
 * it is exactly pairwise BPR training.
 */
import { Adagrad, Adam, AdamW, SGD, type Optimizer } from "../engine/optim.js";
import type { SharedData, Trainable, TrainProgram } from "../engine/parallel.js";
import { shareArray } from "../engine/parallel.js";
import type { Module } from "../engine/nn.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelContext } from "../models/context.js";
import { createModel, type ModelSpec } from "../models/zoo.js";
import type { Recommender } from "../models/recommender.js";
import {
  HintProjection,
  distillationLoss,
  distinctRows,
  teacherRepresentation,
  type DistillBatch,
  type DistillExtras,
  type DistillWeights,
} from "./losses.js";
import type { SoftLabels } from "./soft-labels.js";

/** The optimisers a training run can use. */
export type OptimizerKind = "adam" | "adamw" | "adagrad" | "sgd";

/** Optimiser settings; omitted fields take the optimiser's own defaults (AdamW: weight decay 0.01). */
export interface OptimizerSettings {
  optimizer: OptimizerKind;
  lr: number;
  weightDecay?: number;
  /** SGD only. */
  momentum?: number;
}

/** The plain (structured-cloneable) config of the program. */
export interface DistillConfig extends OptimizerSettings {
  model: ModelSpec;
  context: ModelContext;
  weights: DistillWeights;
  /** The soft labels' fields that are not shared arrays (list length, top-k, kinds, …); absent without labels. */
  labelFields?: Record<string, unknown>;
  /**
   * The hint term's teacher, needed when `weights.hint` ≠ 0: built over `context` like the student (the
   * batch's history ends must mean the same to both), its parameters from the shared `teacherWeights`.
   */
  teacher?: {
    model: ModelSpec;
    /** Seeds the hint projection's initialisation (default 0). */
    projectionSeed?: number;
  };
}

/** What the program builds on every thread. */
export interface DistillTrainer extends Trainable {
  model: Recommender;
  optimizer: Optimizer;
  /** The frozen teacher of the hint term (absent without hints). */
  teacher?: Recommender;
  /** The trained regressor from the student's representation to the teacher's (absent without hints). */
  projection?: HintProjection;
}

/** Prefix of the soft labels' array fields in the shared data. */
export const LABEL_PREFIX = "label.";
/** The shared data's key of the hint teacher's parameters, concatenated in `parameters()` order. */
export const TEACHER_WEIGHTS = "teacherWeights";

/** Build an optimiser over `params`. */
export function createOptimizer(settings: OptimizerSettings, params: Tensor[]): Optimizer {
  const base = {
    lr: settings.lr,
    ...(settings.weightDecay === undefined ? {} : { weightDecay: settings.weightDecay }),
  };
  switch (settings.optimizer) {
    case "adam":
      return new Adam(params, base);
    case "adamw":
      return new AdamW(params, base);
    case "adagrad":
      return new Adagrad(params, base);
    case "sgd":
      return new SGD(params, { ...base, momentum: settings.momentum });
    default:
      throw new Error(
        `unknown optimizer "${(settings as { optimizer: string }).optimizer}" (known: adam, adamw, adagrad, sgd)`,
      );
  }
}

/** The loss terms that need soft labels. */
export const LIST_TERMS = ["pointwise", "listwise", "ranking", "relaxedRanking", "multiTask"] as const;
/** The loss terms that need a teacher signal (soft labels, or the teacher itself for hints). */
export const SOFT_TERMS = [...LIST_TERMS, "hint"] as const;

/** Whether any term of `weights` needs a teacher signal (soft labels, or the teacher itself for hints). */
export function hasSoftTerms(weights: DistillWeights): boolean {
  return SOFT_TERMS.some((term) => (weights[term] ?? 0) !== 0);
}

/** Whether any term of `weights` needs soft labels. */
export function needsSoftLabels(weights: DistillWeights): boolean {
  return LIST_TERMS.some((term) => (weights[term] ?? 0) !== 0);
}

/** Whether `weights` ask for the hint term, which needs the teacher model in training. */
export function needsTeacher(weights: DistillWeights): boolean {
  return (weights.hint ?? 0) !== 0;
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
 * The hint term's frozen teacher and trained projection, built right after the student so that every
 * thread allocates them in the same order.
 */
function buildHint(
  config: DistillConfig,
  data: SharedData,
  student: Recommender,
  thread: number,
): { teacher: Recommender; projection: HintProjection } {
  if (!config.teacher) throw new Error("distill program: hint weights given without a teacher");
  const weights = data[TEACHER_WEIGHTS];
  if (!(weights instanceof Float32Array)) {
    throw new Error(`distill program: hint weights given without the teacher's parameters (${TEACHER_WEIGHTS})`);
  }
  const teacher = createModel(config.teacher.model, config.context);
  const teacherDim = teacher.representationDim;
  const studentDim = student.representationDim;
  if (teacherDim === null) {
    throw new Error(`distill program: the teacher (${teacher.kind}) has no representation for hint distillation`);
  }
  if (studentDim === null) {
    throw new Error(`distill program: the student (${student.kind}) has no representation for hint distillation`);
  }
  // A worker's teacher tensors are thread 0's blocks (replayed allocations), which already hold the
  // weights, and replay restores whatever a worker's build writes into them: only thread 0 copies.
  if (thread === 0) loadTeacher(teacher, weights);
  teacher.eval();
  const projection = new HintProjection(studentDim, teacherDim, { seed: config.teacher.projectionSeed ?? 0 });
  return { teacher, projection };
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

export const program: TrainProgram<DistillConfig, DistillTrainer> = {
  build(config: DistillConfig, data: SharedData, thread = 0): DistillTrainer {
    const { weights } = config;
    const model = createModel(config.model, config.context);
    const hint = needsTeacher(weights) ? buildHint(config, data, model, thread) : null;
    // The teacher stays out of the optimiser (frozen); the projection learns with the student.
    const trained = hint ? [...model.parameters(), ...hint.projection.parameters()] : model.parameters();
    const optimizer = createOptimizer(config, trained);
    const users = data.users as Int32Array;
    const positives = data.positives as Int32Array;
    const negatives = data.negatives as Int32Array;
    const positions = data.historyEnd as Int32Array | undefined;
    const conversions =
      (weights.hardTasks ?? 1) !== 0 && model.tasks.length > 1
        ? (data.conversions as Uint8Array | undefined)
        : undefined;
    const hardOnly = isPureHard(weights) && !conversions;
    const lists = needsSoftLabels(weights);
    const labels = config.labelFields ? softLabelsFrom(data, config.labelFields) : null;
    const listRowOfUser = data.listRowOfUser as Int32Array | undefined;
    if (lists && !(labels && listRowOfUser)) {
      throw new Error("distill program: soft-label weights given without soft labels");
    }
    const extras: DistillExtras = hint
      ? { teacherRepresentation: teacherRepresentation(hint.teacher), projection: hint.projection }
      : {};
    // Terms that learn from every batch, whether or not its users have soft-label lists.
    const batchTerms = (weights.hard ?? 1) !== 0 || hint !== null || conversions !== undefined;
    return {
      model,
      optimizer,
      ...hint,
      step(batch: Int32Array): number {
        const n = batch.length;
        const u = new Int32Array(n);
        const p = new Int32Array(n);
        const q = new Int32Array(n);
        const ends = positions ? new Int32Array(n) : undefined;
        const taskLabels = conversions ? new Float32Array(n) : undefined;
        for (let k = 0; k < n; k++) {
          const s = batch[k]!;
          u[k] = users[s]!;
          p[k] = positives[s]!;
          q[k] = negatives[s]!;
          if (ends) ends[k] = positions![s]!;
          if (taskLabels) taskLabels[k] = conversions![s]!;
        }
        const pairs: DistillBatch = { users: u, positives: p, negatives: q, historyEnd: ends, taskLabels };
        let loss: Tensor;
        if (hardOnly) {
          loss = model.loss(pairs);
        } else {
          const rows = lists ? listRows(u, listRowOfUser!) : null;
          // A pure soft-label objective has nothing to learn from a batch whose users have no list.
          if (rows?.length === 0 && !batchTerms) return 0;
          const distill: DistillBatch = rows ? { ...pairs, lists: { rows } } : pairs;
          loss = distillationLoss(model, distill, labels, weights, extras).total;
        }
        loss.backward();
        optimizer.step();
        return loss.item() * n;
      },
    };
  },
};

/** The soft-label rows of the batch's distinct users with a row, in order of first appearance. */
export function listRows(users: Int32Array, listRowOfUser: Int32Array): Int32Array {
  return distinctRows(Array.from(users, (user) => (user < listRowOfUser.length ? listRowOfUser[user]! : -1)));
}

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const distillProgramUrl = import.meta.url;
