/**
 * The hard-label (task) losses of training: BPR or binary cross-entropy on the batch's (positive,
 * negative) pairs, plus the task labels a multi-task model's extra heads learn, and the weighted sum
 * training objectives are made of (see distill/losses.ts for the soft terms on top).
 */
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import type { Tensor } from "../engine/tensor.js";
import type { DotProductModel } from "../models/dot-product.js";
import type { PairwiseBatch, Pairs, Recommender } from "../models/recommender.js";

/** The hard-label losses: BPR on (positive, negative) pairs, or binary cross-entropy on each score. */
export const HARD_LOSSES = ["bpr", "bce"] as const;
export type HardLossKind = (typeof HARD_LOSSES)[number];

/** Weights of the hard-label terms (absent = default). */
export interface HardWeights {
  /** α, the weight of the student's own hard-label loss on the batch (default 1). */
  hard?: number;
  /**
   * Weight of the extra heads' own task labels (default 1): every head after the main one of a multi-task
   * student learns the batch's `taskLabels` (see {@link hardTaskLosses}); no term for single-head students or
   * batches without labels.
   */
  hardTasks?: number;
  /** Which hard-label loss (default "bpr"); see {@link hardLoss}. */
  hardLoss?: HardLossKind;
}

/** A training batch: (user, positive, negative) triples, with their positives' task labels when the data has them. */
export interface TrainBatch extends PairwiseBatch {
  /** The task label of each triple's positive (1 = converted), learned by a multi-task student's extra heads. */
  taskLabels?: Float32Array;
  /**
   * The optimiser step the batch belongs to, the same on every thread that holds a slice of it: draws made
   * once per batch (a sampled softmax's shared negatives) are seeded by it, so they do not depend on how
   * many threads share the batch.
   */
  step?: number;
}

/** A weighted sum of named loss terms, keeping each term's unweighted value (when `parts` is asked for). */
export class WeightedSum {
  total: Tensor | null = null;

  constructor(readonly parts: Record<string, number> | null = {}) {}

  /** Add `weight · term` (no scaling for weight 1). */
  add(name: string, weight: number, term: Tensor): void {
    if (this.parts) this.parts[name] = term.item();
    const weighted = weight === 1 ? term : ops.scale(term, weight);
    this.total = this.total ? ops.add(this.total, weighted) : weighted;
  }
}

/**
 * The hard-label loss of a batch: "bpr" is `student.loss(batch)`; "bce" is binary cross-entropy with
 * logits over the 2n scores of the batch, its positives labelled 1 and its negatives 0 (one forward over
 * both halves).
 */
export function hardLoss(student: Recommender, batch: PairwiseBatch, kind: HardLossKind = "bpr"): Tensor {
  if (kind === "bpr") return student.loss(batch);
  if (kind !== "bce")
    throw new RangeError(`hardLoss: unknown hard loss "${String(kind)}" (known: ${HARD_LOSSES.join(", ")})`);
  const n = batch.users.length;
  return ops.bceWithLogits(student.forward(bothHalves(batch)), new Float32Array(2 * n).fill(1, 0, n));
}

/**
 * The hard-label loss of a batch together with the task-label loss of a multi-task student's extra heads, from
 * one forwardTasks over the batch's positives and negatives ([2n] pairs): `hard` is the main head's loss as
 * {@link hardLoss} computes it ("bpr": −mean log σ(s⁺ − s⁻), "bce": positives 1, negatives 0); `tasks` sums,
 * over every head after the main one, BCE with logits of the positives against `taskLabels` (e.g. conversion)
 * and of the negatives against 0 (an item the user never engaged with did not convert either).
 */
export function hardTaskLosses(
  student: Recommender,
  batch: PairwiseBatch,
  taskLabels: Float32Array,
  kind: HardLossKind = "bpr",
): { hard: Tensor; tasks: Tensor } {
  const n = batch.users.length;
  if (taskLabels.length !== n) {
    throw new RangeError(`hardTaskLosses: ${taskLabels.length} task labels for ${n} triples`);
  }
  const [main, ...extra] = student.tasks;
  if (extra.length === 0) throw new RangeError(`hardTaskLosses: the student (${student.kind}) has a single head`);
  const heads = student.forwardTasks(bothHalves(batch));
  const mainLogits = heads[main!]!;
  const hard =
    kind === "bpr"
      ? ops.bprLoss(ops.sliceLastDim(mainLogits, 0, n), ops.sliceLastDim(mainLogits, n, 2 * n))
      : ops.bceWithLogits(mainLogits, new Float32Array(2 * n).fill(1, 0, n));
  const targets = new Float32Array(2 * n);
  targets.set(taskLabels);
  let tasks: Tensor | null = null;
  for (const task of extra) {
    const term = ops.bceWithLogits(heads[task]!, targets);
    tasks = tasks ? ops.add(tasks, term) : term;
  }
  return { hard, tasks: tasks! };
}

/** A batch's positive pairs followed by its negative pairs: [2n] pairs, each half seeing the same history ends. */
function bothHalves(batch: PairwiseBatch): Pairs {
  const n = batch.users.length;
  const twice = (a: Int32Array, b: Int32Array): Int32Array => {
    const out = new Int32Array(2 * n);
    out.set(a);
    out.set(b, n);
    return out;
  };
  return {
    users: new Ids(twice(batch.users, batch.users)),
    items: new Ids(twice(batch.positives, batch.negatives)),
    historyEnd: batch.historyEnd && twice(batch.historyEnd, batch.historyEnd),
  };
}

/**
 * Add the hard-label terms of a batch to `sum`: α · hardLoss(student, batch, weights.hardLoss) as "hard",
 * and for a multi-task student given `batch.taskLabels` the extra heads' task-label term as "hardTasks"
 * (weight `hardTasks`; both from one forward pass).
 */
export function addHardTerms(student: Recommender, batch: TrainBatch, weights: HardWeights, sum: WeightedSum): void {
  const alpha = weights.hard ?? 1;
  const taskWeight = weights.hardTasks ?? 1;
  if (taskWeight !== 0 && batch.taskLabels && student.tasks.length > 1) {
    const { hard, tasks } = hardTaskLosses(student, batch, batch.taskLabels, weights.hardLoss);
    if (alpha !== 0) sum.add("hard", alpha, hard);
    sum.add("hardTasks", taskWeight, tasks);
  } else if (alpha !== 0) {
    sum.add("hard", alpha, hardLoss(student, batch, weights.hardLoss));
  }
}

/**
 * The hard-label objective of a batch (the terms of {@link addHardTerms}): with the default weights and a
 * single-head student, exactly `student.loss(batch)`, pairwise BPR.
 */
export function hardObjectiveLoss(student: Recommender, batch: TrainBatch, weights: HardWeights = {}): Tensor {
  const sum = new WeightedSum(null);
  addHardTerms(student, batch, weights, sum);
  if (!sum.total) throw new Error("hardObjectiveLoss: every term is disabled (all weights are 0)");
  return sum.total;
}

/**
 * The L2 term of the BPR papers (and the reference code): Σ over the batch's triples of ‖u‖² + ‖i⁺‖² + ‖i⁻‖²,
 * over the user and item vectors the scores are made of — for BPR-MF exactly the embedding rows the batch
 * uses — divided by the batch size. Unlike weight decay it touches only the batch's rows, as often as they
 * occur. Only dot-product models have such vectors (the training program checks before it builds).
 */
export function batchL2(model: DotProductModel, batch: PairwiseBatch): Tensor {
  const n = batch.users.length;
  const users = model.userVectors(new Ids(batch.users), undefined, batch.historyEnd);
  const items = model.itemVectors(new Ids(Int32Array.from([...batch.positives, ...batch.negatives])));
  return ops.scale(ops.add(ops.sum(ops.square(users)), ops.sum(ops.square(items))), 1 / n);
}
