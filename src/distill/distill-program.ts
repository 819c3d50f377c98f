/**
 * The training program for teachers and students alike (see engine/parallel.ts): samples are the shared
 * (user, positive, negative, historyEnd) arrays of training-data.ts; a student's soft labels travel along
 * as shared arrays (`label.<field>`), with `listRowOfUser` mapping a user to its soft-label row (−1: none).
 * Each step computes distillationLoss for the batch, back-propagates and takes an optimiser step. With
 * pure hard-label weights ({hard: 1}) it is exactly pairwise BPR training.
 */
import { Adagrad, Adam, AdamW, SGD, type Optimizer } from "../engine/optim.js";
import type { SharedData, Trainable, TrainProgram } from "../engine/parallel.js";
import { shareArray } from "../engine/parallel.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelContext } from "../models/context.js";
import { createModel, type ModelSpec } from "../models/index.js";
import type { PairwiseBatch, Recommender } from "../models/recommender.js";
import { distillationLoss, type DistillBatch, type DistillWeights } from "./losses.js";
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
}

/** What the program builds on every thread. */
export interface DistillTrainer extends Trainable {
  model: Recommender;
  optimizer: Optimizer;
}

/** Prefix of the soft labels' array fields in the shared data. */
export const LABEL_PREFIX = "label.";

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

/** The loss terms that need soft labels (or a teacher signal); everything else in the weights is a setting. */
export const SOFT_TERMS = ["pointwise", "listwise", "ranking", "relaxedRanking", "hint", "multiTask"] as const;

/** Whether any term of `weights` needs a teacher signal (soft labels, or the teacher itself for hints). */
export function hasSoftTerms(weights: DistillWeights): boolean {
  return SOFT_TERMS.some((term) => (weights[term] ?? 0) !== 0);
}

/**
 * Whether `weights` only ask for the hard (BPR) term with weight 1 (the default of `hard`): then training
 * is plain pairwise training.
 */
export function isPureHard(weights: DistillWeights): boolean {
  return (weights.hard ?? 1) === 1 && !hasSoftTerms(weights);
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
  build(config: DistillConfig, data: SharedData): DistillTrainer {
    const model = createModel(config.model, config.context);
    const optimizer = createOptimizer(config, model.parameters());
    const users = data.users as Int32Array;
    const positives = data.positives as Int32Array;
    const negatives = data.negatives as Int32Array;
    const positions = data.historyEnd as Int32Array | undefined;
    const hardOnly = isPureHard(config.weights);
    const labels = config.labelFields ? softLabelsFrom(data, config.labelFields) : null;
    const listRowOfUser = data.listRowOfUser as Int32Array | undefined;
    if ((config.weights.hint ?? 0) !== 0) {
      throw new Error("distill program: hint distillation needs the teacher in the training program (not supported)");
    }
    if (hasSoftTerms(config.weights) && !(labels && listRowOfUser)) {
      throw new Error("distill program: soft-label weights given without soft labels");
    }
    return {
      model,
      optimizer,
      step(batch: Int32Array): number {
        const n = batch.length;
        const u = new Int32Array(n);
        const p = new Int32Array(n);
        const q = new Int32Array(n);
        const ends = positions ? new Int32Array(n) : undefined;
        for (let k = 0; k < n; k++) {
          const s = batch[k]!;
          u[k] = users[s]!;
          p[k] = positives[s]!;
          q[k] = negatives[s]!;
          if (ends) ends[k] = positions![s]!;
        }
        const pairs: PairwiseBatch = { users: u, positives: p, negatives: q, historyEnd: ends };
        let loss: Tensor;
        if (hardOnly) {
          loss = model.loss(pairs);
        } else {
          const rows = labels ? listRows(u, listRowOfUser!) : null;
          // A pure soft-label objective has nothing to learn from a batch whose users have no list.
          if (rows?.length === 0 && (config.weights.hard ?? 1) === 0) return 0;
          const distill: DistillBatch = rows ? { ...pairs, lists: { rows } } : pairs;
          loss = distillationLoss(model, distill, labels, config.weights).total;
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
  const rows: number[] = [];
  const taken = new Set<number>();
  for (const user of users) {
    const row = user < listRowOfUser.length ? listRowOfUser[user]! : -1;
    if (row >= 0 && !taken.has(row)) {
      taken.add(row);
      rows.push(row);
    }
  }
  return Int32Array.from(rows);
}

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const distillProgramUrl = import.meta.url;
