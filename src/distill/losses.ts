/**
 * Distillation losses: each returns a scalar Tensor (a mean over rows) differentiable in the student's
 * logits, built from the engine's ops (no dedicated kernel; the relaxed ranking loss is a small custom op
 * whose forward and backward are O(rows × list) loops in float64).
 *
 * The student logits come as [R, L] tensors over the soft-label lists of soft-labels.ts; the teacher's
 * side is always a constant (Float32Array), so no gradient can reach the teacher.
 */
import { Linear, Module } from "../engine/nn.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import { Rng } from "../engine/random.js";
import { Tensor, accumulate, noGrad, record } from "../engine/tensor.js";
import { listPairs, type PairwiseBatch, type Pairs, type Recommender } from "../models/recommender.js";
import { sigmoidProbabilities, softLabelRowIndex, type SoftLabels } from "./soft-labels.js";

function fmt(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

function checkTemperature(op: string, T: number): void {
  if (!(T > 0) || !Number.isFinite(T)) throw new RangeError(`${op}: temperature must be positive and finite, got ${T}`);
}

function rowsOf(op: string, x: Tensor): { rows: number; cols: number } {
  if (x.shape.length !== 2) throw new RangeError(`${op}: student logits must be [rows, list], got ${fmt(x)}`);
  return { rows: x.shape[0]!, cols: x.shape[1]! };
}

/**
 * Pointwise soft-label loss: T² · BCE(student / T, sigmoid(teacher / T)), mean over every element; any
 * student shape, teacher logits with as many values.
 *
 * Why T²: the gradient of BCE(s/T, p) in s is (σ(s/T) − p) / T, and for moderate logits σ(s/T) − σ(t/T)
 * ≈ (s − t) / 4T, so it shrinks as 1/T². Multiplying by T² (Hinton et al.'s convention, as in
 * `ops.klDivergence`) keeps the gradient scale independent of T, so the loss weight and the temperature
 * can be tuned separately. Note that the value is the cross-entropy, not the KL: it does not reach 0 when
 * the student matches the teacher (it reaches T² · the teacher's binary entropy).
 */
export function pointwiseSoftLoss(studentLogits: Tensor, teacherLogits: Float32Array, T = 1): Tensor {
  checkTemperature("pointwiseSoftLoss", T);
  if (teacherLogits.length !== studentLogits.size) {
    throw new RangeError(
      `pointwiseSoftLoss: ${teacherLogits.length} teacher logits for student logits ${fmt(studentLogits)}`,
    );
  }
  const targets = sigmoidProbabilities(teacherLogits, T);
  const scaled = T === 1 ? studentLogits : ops.scale(studentLogits, 1 / T);
  const bce = ops.bceWithLogits(scaled, targets);
  return T === 1 ? bce : ops.scale(bce, T * T);
}

/**
 * Listwise distillation: T² · mean over rows of KL(softmax(teacher / T) ‖ softmax(student / T)) over each
 * row of the [R, L] list (ops.klDivergence); zero when the rows agree up to a per-row shift.
 */
export function listwiseKLLoss(studentLogits: Tensor, teacherLogits: Float32Array, T = 1): Tensor {
  rowsOf("listwiseKLLoss", studentLogits);
  checkTemperature("listwiseKLLoss", T);
  if (teacherLogits.length !== studentLogits.size) {
    throw new RangeError(
      `listwiseKLLoss: ${teacherLogits.length} teacher logits for student logits ${fmt(studentLogits)}`,
    );
  }
  return ops.klDivergence(studentLogits, Tensor.from(teacherLogits, studentLogits.shape), T);
}

/** Position weights of ranking distillation: w_r ∝ exp(−r / λ) for ranks r = 0..K−1, summing to 1. */
export function rankingWeights(K: number, lambda = 10): Float32Array {
  if (!(lambda > 0)) throw new RangeError(`rankingWeights: lambda must be positive, got ${lambda}`);
  const raw = Array.from({ length: K }, (_, r) => Math.exp(-r / lambda));
  const total = raw.reduce((a, b) => a + b, 0);
  return Float32Array.from(raw, (w) => w / total);
}

/**
 * Ranking distillation (Tang & Wang, KDD'18), as the PyTorch reference: the teacher's top-K unobserved
 * items are extra positives weighted by rank, −mean over rows of Σ_r w_r log σ(s_r), with `studentTopK`
 * [R, K] in the teacher's rank order and w from `rankingWeights(K, lambda)`.
 */
export function rankingDistillationLoss(studentTopK: Tensor, lambda = 10): Tensor {
  const { rows, cols } = rowsOf("rankingDistillationLoss", studentTopK);
  const w = Tensor.from(rankingWeights(cols, lambda), [cols]);
  const weighted = ops.mul(ops.logSigmoid(studentTopK), w);
  return ops.scale(ops.sum(weighted), -1 / Math.max(rows, 1));
}

/** log(e^a + e^b) without overflow; either side may be −∞. */
function logAddExp(a: number, b: number): number {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

/**
 * Relaxed ranking distillation (DE-RRD, Kang et al., CIKM'20): a Plackett–Luce likelihood of the
 * teacher's order over the K "interesting" items, each competing against the items ranked below it and
 * every "uninteresting" item (whose own order is ignored):
 *
 *   −mean over rows of Σ_{k=1..K} [ s_k − log( Σ_{j=k..K} e^{s_j} + Σ_m e^{u_m} ) ]
 *
 * `studentInteresting` [R, K] is in the teacher's order, `studentUninteresting` [R, M]. The suffix
 * log-sum-exps come from one reverse scan per row (log-space, so any logit range is finite), and the
 * backward uses ∂/∂s_j = −1 + e^{s_j} Σ_{k≤j} 1/D_k and ∂/∂u_m = e^{u_m} Σ_k 1/D_k, with those sums also
 * kept in log space: O(R · (K + M)) both ways.
 */
export function relaxedRankingLoss(studentInteresting: Tensor, studentUninteresting: Tensor): Tensor {
  const op = "relaxedRankingLoss";
  const { rows, cols: K } = rowsOf(op, studentInteresting);
  const { rows: uRows, cols: M } = rowsOf(op, studentUninteresting);
  if (uRows !== rows) {
    throw new RangeError(
      `${op}: interesting ${fmt(studentInteresting)} and uninteresting ${fmt(studentUninteresting)} rows differ`,
    );
  }
  const s = studentInteresting.data;
  const u = studentUninteresting.data;
  // logD[r·K + k] = log(Σ_{j≥k} e^{s_j} + Σ_m e^{u_m}) of row r.
  const logD = new Float64Array(rows * K);
  let total = 0;
  for (let r = 0; r < rows; r++) {
    let acc = -Infinity;
    for (let m = 0; m < M; m++) acc = logAddExp(acc, u[r * M + m]!);
    for (let k = K - 1; k >= 0; k--) {
      const sk = s[r * K + k]!;
      acc = logAddExp(acc, sk);
      logD[r * K + k] = acc;
      total += sk - acc;
    }
  }
  const out = Tensor.from([rows === 0 ? 0 : -total / rows], []);
  return record(out, [studentInteresting, studentUninteresting], (g) => {
    const scale = rows === 0 ? 0 : g.data[0]! / rows;
    const gs = studentInteresting.requiresGrad ? Tensor.empty(studentInteresting.shape) : null;
    const gu = studentUninteresting.requiresGrad ? Tensor.empty(studentUninteresting.shape) : null;
    const gsd = gs?.data;
    const gud = gu?.data;
    const sd = studentInteresting.data;
    const ud = studentUninteresting.data;
    for (let r = 0; r < rows; r++) {
      // logP = log Σ_{k≤j} 1/D_k, growing with j.
      let logP = -Infinity;
      for (let j = 0; j < K; j++) {
        logP = logAddExp(logP, -logD[r * K + j]!);
        if (gsd) gsd[r * K + j] = scale * (Math.exp(sd[r * K + j]! + logP) - 1);
      }
      if (gud) for (let m = 0; m < M; m++) gud[r * M + m] = scale * Math.exp(ud[r * M + m]! + logP);
    }
    if (gs) accumulate(studentInteresting, gs);
    if (gu) accumulate(studentUninteresting, gu);
  });
}

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
      `hintLoss: ${teacherRepr.length} teacher values for a projected representation ${fmt(projected)}`,
    );
  }
  return ops.mse(projected, teacherRepr);
}

/**
 * Multi-task soft loss: Σ_task weight_task · pointwiseSoftLoss(student_task, teacher_task, T) over the
 * student's heads (weight 1 unless given; heads with weight 0 are skipped). Every student head used must
 * have teacher logits; extra teacher heads are ignored.
 */
export function multiTaskSoftLoss(
  studentTasks: Record<string, Tensor>,
  teacherTasks: Record<string, Float32Array>,
  T = 1,
  weights: Record<string, number> = {},
): Tensor {
  let total: Tensor | null = null;
  for (const [name, logits] of Object.entries(studentTasks)) {
    const w = weights[name] ?? 1;
    if (w === 0) continue;
    const teacher = teacherTasks[name];
    if (!teacher) {
      throw new RangeError(
        `multiTaskSoftLoss: no teacher logits for task "${name}" (teacher tasks: ${Object.keys(teacherTasks).join(", ") || "none"})`,
      );
    }
    const term = pointwiseSoftLoss(logits, teacher, T);
    const weighted = w === 1 ? term : ops.scale(term, w);
    total = total ? ops.add(total, weighted) : weighted;
  }
  if (!total) throw new RangeError("multiTaskSoftLoss: no task with a non-zero weight");
  return total;
}

// ---- the combined objective -----------------------------------------------------------------------

/** The hard-label losses: BPR on (positive, negative) pairs, or binary cross-entropy on each score. */
export const HARD_LOSSES = ["bpr", "bce"] as const;
export type HardLossKind = (typeof HARD_LOSSES)[number];

/** Weights of each term of `distillationLoss` (0 or absent = off, except `hard` and `hardTasks`: default 1). */
export interface DistillWeights {
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
  pointwise?: number;
  listwise?: number;
  ranking?: number;
  relaxedRanking?: number;
  hint?: number;
  multiTask?: number;
  /** Temperature of the pointwise, listwise and multi-task terms (default 1). */
  temperature?: number;
  /** λ of the ranking-distillation position weights (default 10). */
  rankingLambda?: number;
  /** Per-head weights inside the multi-task term (default 1 each). */
  taskWeights?: Record<string, number>;
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

/** A training batch, plus which soft-label rows (lists) it trains on. */
export interface DistillBatch extends PairwiseBatch {
  /** The task label of each triple's positive (1 = converted), learned by a multi-task student's extra heads. */
  taskLabels?: Float32Array;
  /**
   * Rows of the SoftLabels for this batch; default: the rows of the batch's distinct users (users
   * without a row are skipped). `historyEnd` (per row) bounds history-aware students' visible history.
   */
  lists?: { rows: Int32Array; historyEnd?: Int32Array };
  /**
   * Alternative to `lists`: the soft-label row of each triple's user (−1 = none), as a pool program has
   * it at hand; rows are deduplicated in order of first appearance and −1 skipped. Ignored when `lists`
   * is given.
   */
  rows?: Int32Array;
}

/** Extra inputs of the hint term. */
export interface DistillExtras {
  /**
   * The teacher's representation of `pairs` as [n, dt] values (see `teacherRepresentation`); it must not
   * end the step (no endStep(), no scorer calls), since the student's graph is still live.
   */
  teacherRepresentation?: (pairs: Pairs) => Float32Array;
  projection?: HintProjection;
}

/** The objective and each enabled term's unweighted value (plus "total"). */
export interface DistillationResult {
  total: Tensor;
  parts: Record<string, number>;
}

const userRowIndexes = new WeakMap<SoftLabels, Int32Array>();

/** The distinct non-negative entries of `candidates`, in order of first appearance. */
export function distinctRows(candidates: ArrayLike<number>): Int32Array {
  const rows: number[] = [];
  const taken = new Set<number>();
  for (let k = 0; k < candidates.length; k++) {
    const r = candidates[k]!;
    if (r >= 0 && !taken.has(r)) {
      taken.add(r);
      rows.push(r);
    }
  }
  return Int32Array.from(rows);
}

/** The soft-label rows of the batch: `lists.rows` as given, else its `rows` or its users' rows, deduplicated. */
function batchRows(labels: SoftLabels, batch: DistillBatch): Int32Array {
  if (batch.lists) return batch.lists.rows;
  if (batch.rows) return distinctRows(batch.rows);
  let index = userRowIndexes.get(labels);
  if (!index) {
    index = softLabelRowIndex(labels);
    userRowIndexes.set(labels, index);
  }
  const userIndex = index;
  return distinctRows(Array.from(batch.users, (u) => (u < userIndex.length ? userIndex[u]! : -1)));
}

/** Rows `rows` of a [rowsTotal × width] array, back to back. */
function gatherRows(values: Float32Array, rows: Int32Array, width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, k) => out.set(values.subarray(r * width, (r + 1) * width), k * width));
  return out;
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

/**
 * The distillation objective of one batch: α · hardLoss(student, batch, weights.hardLoss), plus for a
 * multi-task student given `batch.taskLabels` the extra heads' task-label term (hardTaskLosses, weight
 * `hardTasks`), plus every enabled soft term, each weighted. The list terms score the soft-label lists of
 * the batch (`batch.lists.rows`, else the distinct entries of `batch.rows`, else the rows of its distinct
 * users) with one `student.forward` over [R × L] pairs (users repeated L times), viewed as [R, L]:
 *
 * - pointwise, listwise: the whole list (observed, top-K and negative slices), temperature T;
 * - ranking: the top-K slice [P, P + K), in the teacher's order (λ = rankingLambda);
 * - relaxed ranking: the top-K slice as "interesting" (teacher order) against the negative slice
 *   [P + K, L) as "uninteresting";
 * - multi-task: every head of `student.forwardTasks` on the lists against `labels.taskScores`
 *   (the first head also serves the other list terms, so the lists are scored once);
 * - hint: the batch's (user, positive) pairs: mse(projection(student repr), teacher repr).
 *
 * `parts` holds each term's unweighted value; the gradient reaches the student (and the projection) only.
 */
export function distillationLoss(
  student: Recommender,
  batch: DistillBatch,
  labels: SoftLabels | null,
  weights: DistillWeights,
  extras: DistillExtras = {},
): DistillationResult {
  const T = weights.temperature ?? 1;
  checkTemperature("distillationLoss", T);
  const parts: Record<string, number> = {};
  let total: Tensor | null = null;
  const addTerm = (name: string, weight: number, term: Tensor): void => {
    parts[name] = term.item();
    const weighted = weight === 1 ? term : ops.scale(term, weight);
    total = total ? ops.add(total, weighted) : weighted;
  };

  const alpha = weights.hard ?? 1;
  const taskWeight = weights.hardTasks ?? 1;
  if (taskWeight !== 0 && batch.taskLabels && student.tasks.length > 1) {
    // The main head's loss comes from the same forward pass as the extra heads'.
    const { hard, tasks } = hardTaskLosses(student, batch, batch.taskLabels, weights.hardLoss);
    if (alpha !== 0) addTerm("hard", alpha, hard);
    addTerm("hardTasks", taskWeight, tasks);
  } else if (alpha !== 0) {
    addTerm("hard", alpha, hardLoss(student, batch, weights.hardLoss));
  }

  const w = {
    pointwise: weights.pointwise ?? 0,
    listwise: weights.listwise ?? 0,
    ranking: weights.ranking ?? 0,
    relaxedRanking: weights.relaxedRanking ?? 0,
    multiTask: weights.multiTask ?? 0,
  };
  if (Object.values(w).some((v) => v !== 0)) {
    if (!labels) throw new Error("distillationLoss: list terms are enabled but no soft labels were given");
    const rows = batchRows(labels, batch);
    if (rows.length > 0) addListTerms(student, batch, labels, rows, w, weights, T, addTerm);
  }

  const hintWeight = weights.hint ?? 0;
  if (hintWeight !== 0) {
    const { teacherRepresentation: teacherRepr, projection } = extras;
    if (!teacherRepr || !projection) {
      throw new Error("distillationLoss: the hint term needs extras.teacherRepresentation and extras.projection");
    }
    const pairs: Pairs = {
      users: new Ids(batch.users),
      items: new Ids(batch.positives),
      historyEnd: batch.historyEnd,
    };
    const studentRepr = student.representation(pairs);
    if (!studentRepr)
      throw new Error(`distillationLoss: the student (${student.kind}) has no representation for hints`);
    addTerm("hint", hintWeight, hintLoss(studentRepr, teacherRepr(pairs), projection));
  }

  if (!total) throw new Error("distillationLoss: every term is disabled (all weights are 0)");
  const result = total as Tensor;
  parts.total = result.item();
  return { total: result, parts };
}

function addListTerms(
  student: Recommender,
  batch: DistillBatch,
  labels: SoftLabels,
  rows: Int32Array,
  w: { pointwise: number; listwise: number; ranking: number; relaxedRanking: number; multiTask: number },
  weights: DistillWeights,
  T: number,
  addTerm: (name: string, weight: number, term: Tensor) => void,
): void {
  const L = labels.listLength;
  const P = labels.positives;
  const K = labels.topK;
  const R = rows.length;
  for (const r of rows) {
    if (r < 0 || r >= labels.users.length) {
      throw new RangeError(`distillationLoss: list row ${r} is outside the ${labels.users.length} soft-label rows`);
    }
  }
  const users = Int32Array.from(rows, (r) => labels.users[r]!);
  const items = new Int32Array(R * L);
  rows.forEach((r, k) => items.set(labels.items.subarray(r * L, (r + 1) * L), k * L));
  const ends = batch.lists?.historyEnd;
  if (ends && ends.length !== R) {
    throw new RangeError(`distillationLoss: ${ends.length} history ends for ${R} list rows`);
  }

  let heads: Record<string, Tensor> | null = null;
  let scores: Tensor;
  if (w.multiTask !== 0) {
    heads = student.forwardTasks(listPairs(users, items, ends));
    scores = Object.values(heads)[0]!.reshape([R, L]);
  } else {
    scores = student.scoreLists(users, items, ends);
  }
  const teacher = gatherRows(labels.teacherScores, rows, L);

  if (w.pointwise !== 0) addTerm("pointwise", w.pointwise, pointwiseSoftLoss(scores, teacher, T));
  if (w.listwise !== 0) addTerm("listwise", w.listwise, listwiseKLLoss(scores, teacher, T));
  if ((w.ranking !== 0 || w.relaxedRanking !== 0) && K === 0) {
    throw new Error("distillationLoss: ranking terms need a top-K slice, but the soft labels have topK = 0");
  }
  if (w.ranking !== 0) {
    const topK = ops.sliceLastDim(scores, P, P + K);
    addTerm("ranking", w.ranking, rankingDistillationLoss(topK, weights.rankingLambda ?? 10));
  }
  if (w.relaxedRanking !== 0) {
    const interesting = ops.sliceLastDim(scores, P, P + K);
    const uninteresting = ops.sliceLastDim(scores, P + K, L);
    addTerm("relaxedRanking", w.relaxedRanking, relaxedRankingLoss(interesting, uninteresting));
  }
  if (heads) {
    if (!labels.taskScores) {
      throw new Error("distillationLoss: the multi-task term needs soft labels generated with tasks: true");
    }
    const teacherTasks: Record<string, Float32Array> = {};
    for (const [name, values] of Object.entries(labels.taskScores)) teacherTasks[name] = gatherRows(values, rows, L);
    addTerm("multiTask", w.multiTask, multiTaskSoftLoss(heads, teacherTasks, T, weights.taskWeights));
  }
}
