/**
 * The hard-label losses of a training batch: the model's own BPR, binary cross-entropy on each score, and a
 * multi-task model's extra heads learning their task labels. Distillation adds its soft terms on top.
 */
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import type { Tensor } from "../engine/tensor.js";
import type { PairwiseBatch, Pairs, Recommender } from "../models/recommender.js";

/** The hard-label losses: BPR on (positive, negative) pairs, or binary cross-entropy on each score. */
export const HARD_LOSSES = ["bpr", "bce"] as const;
export type HardLossKind = (typeof HARD_LOSSES)[number];

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
