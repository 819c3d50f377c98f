/**
 * The distillation objective of a batch: the hard-label terms of train/losses.ts plus every enabled soft
 * term (soft-losses.ts over the teacher's soft-label lists, hint.ts against a frozen teacher), each
 * weighted.
 */
import * as ops from "../engine/ops/index.js";
import { DataRng } from "../data/rng.js";
import { Ids } from "../engine/ops/embedding.js";
import { noGrad, Tensor } from "../engine/tensor.js";
import { listPairs, type Pairs, type Recommender } from "../models/recommender.js";
import { addHardTerms, WeightedSum, type HardWeights, type TrainBatch } from "../train/losses.js";
import { isDotProduct } from "../models/dot-product.js";
import type { DistillationExperts, ExpertGroup } from "./experts.js";
import type { TeacherVectors } from "./teacher-vectors.js";
import { fullTopologyLoss, hierarchicalTopologyLoss } from "./topology.js";
import { hintLoss, type HintProjection } from "./hint.js";
import { pairwiseListLoss, popularityGroups, stratifiedPairs } from "./unkd.js";
import { checkTemperature, softLabelRowIndex, type SoftLabels } from "./soft-labels.js";
import {
  listwiseKLLoss,
  multiTaskSoftLoss,
  pointwiseSoftLoss,
  gatherColumns,
  rankDiscountedSample,
  rankingDistillationLoss,
  rankingHybridWeights,
  relaxedRankingLoss,
  uniformSample,
} from "./soft-losses.js";

/** Weights of each term of `distillationLoss` (0 or absent = off, except `hard` and `hardTasks`: default 1). */
export interface DistillWeights extends HardWeights {
  pointwise?: number;
  listwise?: number;
  ranking?: number;
  relaxedRanking?: number;
  hint?: number;
  /** Distillation experts (DE-RRD's DE): the student's user and item embeddings mapped to the teacher's. */
  experts?: number;
  /** Experts per side of the DE term (default 5). */
  expertCount?: number;
  /** Topology distillation (Kang et al., KDD'21): the similarities among the batch's users and items. */
  topology?: number;
  /** "full" (FTD, default) or "hierarchical" (HTD: groups from the experts' selection, which needs `experts`). */
  topologyKind?: "full" | "hierarchical";
  multiTask?: number;
  /** Temperature of the pointwise, listwise and multi-task terms (default 1). */
  temperature?: number;
  /** λ of the ranking-distillation position weights (default 10). */
  rankingLambda?: number;
  /**
   * μ of ranking distillation's dynamic weights (Tang & Wang's hybrid weighting: position × dynamic,
   * normalised); 0 or absent = position weights only.
   */
  rankingDynamic?: number;
  /** How many of the teacher's top items ranking distillation learns (the first ones; default the whole top-K slice). */
  rankingTopK?: number;
  /**
   * Interesting items per list of relaxed ranking (DE-RRD), drawn each time the list is used from the
   * top-K slice by rank-discounted sampling (∝ e^{−rank/rrdTemperature}); default the whole slice, unsampled.
   */
  rrdInteresting?: number;
  /** Uninteresting items per list of relaxed ranking, drawn uniformly from the sampled slice (default all of it). */
  rrdUninteresting?: number;
  /** Temperature of the rank-discounted sampling of interesting items (default 10). */
  rrdTemperature?: number;
  /**
   * Unbiased KD (UnKD, Chen et al., WSDM'23): the teacher's order learnt as pairs within popularity groups
   * of the lists' unobserved items (see unkd.ts); needs the items' training popularity.
   */
  unkd?: number;
  /** Popularity groups of UnKD, each about the same share of the training interactions (default 4). */
  unkdGroups?: number;
  /** Pairs UnKD draws per group and list, each time the list is used (default 8). */
  unkdPairs?: number;
  /** Temperature of UnKD's rank-discounted draw of a pair's two ranks within a group (default 10). */
  unkdTemperature?: number;
  /** Per-head weights inside the multi-task term (default 1 each). */
  taskWeights?: Record<string, number>;
}

/** A training batch, plus which soft-label rows (lists) it trains on. */
export interface DistillBatch extends TrainBatch {
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
  /** Draws the relaxed-ranking samples and the experts' Gumbel noise (default: one generator of this module, seeded 0). */
  rng?: DataRng;
  /** The frozen dot-product teacher's user and item vectors, for the experts and topology terms. */
  teacherVectors?: TeacherVectors;
  /** Each item's training interactions, for the UnKD term's popularity groups (see historyPopularity). */
  itemPopularity?: Int32Array;
  /** The DE term's parts: the trained experts and the selection temperature now. */
  experts?: { module: DistillationExperts; temperature: number };
}

/** What the list terms need beside the logits: the catalogue size (dynamic ranking weights) and a generator. */
export interface ListTermContext {
  /** Items in the catalogue, for the student's estimated ranks (needed by `rankingDynamic`). */
  numItems?: number;
  rng?: DataRng;
  /** Each item's training interactions (needed by `unkd`). */
  itemPopularity?: Int32Array;
}

const defaultRng = new DataRng(0);

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

/** The list terms' weights (0 = off). */
type ListWeights = Record<"pointwise" | "listwise" | "ranking" | "relaxedRanking" | "unkd" | "multiTask", number>;

function listWeights(weights: DistillWeights): ListWeights {
  return {
    pointwise: weights.pointwise ?? 0,
    listwise: weights.listwise ?? 0,
    ranking: weights.ranking ?? 0,
    relaxedRanking: weights.relaxedRanking ?? 0,
    unkd: weights.unkd ?? 0,
    multiTask: weights.multiTask ?? 0,
  };
}

/**
 * The distillation objective of one batch: α · hardLoss(student, batch, weights.hardLoss), plus for a
 * multi-task student given `batch.taskLabels` the extra heads' task-label term (hardTaskLosses, weight
 * `hardTasks`), plus every enabled soft term, each weighted. The list terms score the soft-label lists of
 * the batch (`batch.lists.rows`, else the distinct entries of `batch.rows`, else the rows of its distinct
 * users) with one `student.forward` over [R × L] pairs (users repeated L times), viewed as [R, L], and
 * take the terms of {@link addListTerms}; the multi-task term scores every head of `student.forwardTasks`
 * on the lists against `labels.taskScores` (the first head also serves the other list terms, so the lists
 * are scored once); hint: the batch's (user, positive) pairs: mse(projection(student repr), teacher repr).
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
  checkTemperature("distillationLoss", weights.temperature ?? 1);
  const sum = new WeightedSum();
  addHardTerms(student, batch, weights, sum);

  const w = listWeights(weights);
  if (Object.values(w).some((v) => v !== 0)) {
    if (!labels) throw new Error("distillationLoss: list terms are enabled but no soft labels were given");
    const rows = batchRows(labels, batch);
    if (rows.length > 0) {
      const { scores, heads } = scoreListRows(student, labels, rows, batch.lists?.historyEnd, w.multiTask !== 0);
      addListTerms(scores, labels, rows, weights, sum, heads, {
        numItems: student.context.numItems,
        rng: extras.rng,
        ...(extras.itemPopularity ? { itemPopularity: extras.itemPopularity } : {}),
      });
    }
  }

  const expertWeight = weights.experts ?? 0;
  if (expertWeight !== 0) {
    if (!extras.experts || !extras.teacherVectors) {
      throw new Error("distillationLoss: the experts term needs extras.experts and extras.teacherVectors");
    }
    sum.add(
      "experts",
      expertWeight,
      expertsLoss(student, batch, extras.experts, extras.teacherVectors, extras.rng ?? defaultRng),
    );
  }

  const topologyWeight = weights.topology ?? 0;
  if (topologyWeight !== 0) {
    if (!extras.teacherVectors) throw new Error("distillationLoss: the topology term needs extras.teacherVectors");
    const kind = weights.topologyKind ?? "full";
    if (kind === "hierarchical" && !extras.experts) {
      throw new Error("distillationLoss: hierarchical topology groups entities by the experts: give the experts term");
    }
    sum.add(
      "topology",
      topologyWeight,
      topologyTerm(student, batch, extras.teacherVectors, kind, extras.experts?.module),
    );
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
    sum.add("hint", hintWeight, hintLoss(studentRepr, teacherRepr(pairs), projection));
  }

  if (!sum.total) throw new Error("distillationLoss: every term is disabled (all weights are 0)");
  const total = sum.total as Tensor;
  sum.parts!.total = total.item();
  return { total, parts: sum.parts! };
}

/** The student's [R, L] logits of the lists `rows` (and every head's, for the multi-task term). */
function scoreListRows(
  student: Recommender,
  labels: SoftLabels,
  rows: Int32Array,
  ends: Int32Array | undefined,
  allHeads: boolean,
): { scores: Tensor; heads?: Record<string, Tensor> } {
  const L = labels.listLength;
  const R = rows.length;
  for (const r of rows) {
    if (r < 0 || r >= labels.users.length) {
      throw new RangeError(`distillationLoss: list row ${r} is outside the ${labels.users.length} soft-label rows`);
    }
  }
  const users = Int32Array.from(rows, (r) => labels.users[r]!);
  const items = new Int32Array(R * L);
  rows.forEach((r, k) => items.set(labels.items.subarray(r * L, (r + 1) * L), k * L));
  if (ends && ends.length !== R) {
    throw new RangeError(`distillationLoss: ${ends.length} history ends for ${R} list rows`);
  }
  if (!allHeads) return { scores: student.scoreLists(users, items, ends) };
  const heads = student.forwardTasks(listPairs(users, items, ends));
  return { scores: Object.values(heads)[0]!.reshape([R, L]), heads };
}

/**
 * Add the enabled list terms of `weights` for the student's logits `scores` [R, L] of the soft-label
 * lists `rows` (in that order) to `sum`:
 *
 * - pointwise, listwise: the whole list (observed, top-K and negative slices), temperature T;
 * - ranking: the first `rankingTopK` of the top-K slice [P, P + K), in the teacher's order (λ =
 *   rankingLambda), with Tang & Wang's hybrid weights when `rankingDynamic` (μ) is set, the student's
 *   ranks estimated from the sampled slice [P + K, L) (`context.numItems` needed);
 * - relaxed ranking: "interesting" items from the top-K slice (teacher order) against "uninteresting"
 *   ones from the sampled slice; with `rrdInteresting` / `rrdUninteresting`, DE-RRD's sampling of that
 *   many (rank-discounted, resp. uniform) with `context.rng`, fresh each time the list is used;
 * - UnKD: pairs of unobserved items within popularity groups (`context.itemPopularity`), in the teacher's
 *   order, drawn with `context.rng` each time the list is used (unkd.ts);
 * - multi-task (with `heads`, every head's logits of the lists): against `labels.taskScores`.
 *
 * However the student scores its lists (a zoo model's scoreLists, an online model's vectors), the terms
 * are these.
 */
export function addListTerms(
  scores: Tensor,
  labels: SoftLabels,
  rows: Int32Array,
  weights: DistillWeights,
  sum: WeightedSum,
  heads?: Record<string, Tensor>,
  context: ListTermContext = {},
): void {
  const w = listWeights(weights);
  const T = weights.temperature ?? 1;
  const L = labels.listLength;
  const K = labels.topK;
  const teacher = gatherRows(labels.teacherScores, rows, L);

  if (w.pointwise !== 0) sum.add("pointwise", w.pointwise, pointwiseSoftLoss(scores, teacher, T));
  if (w.listwise !== 0) sum.add("listwise", w.listwise, listwiseKLLoss(scores, teacher, T));
  if ((w.ranking !== 0 || w.relaxedRanking !== 0) && K === 0) {
    throw new Error("distillationLoss: ranking terms need a top-K slice, but the soft labels have topK = 0");
  }
  if (w.ranking !== 0) sum.add("ranking", w.ranking, rankingTerm(scores, labels, weights, context));
  if (w.relaxedRanking !== 0) {
    const { interesting, uninteresting } = relaxedRankingItems(scores, labels, weights, context.rng ?? defaultRng);
    sum.add("relaxedRanking", w.relaxedRanking, relaxedRankingLoss(interesting, uninteresting));
  }
  if (w.unkd !== 0) sum.add("unkd", w.unkd, unkdTerm(scores, labels, rows, weights, context));
  if (w.multiTask !== 0) {
    if (!heads) throw new Error("addListTerms: the multi-task term needs every head's logits of the lists");
    if (!labels.taskScores) {
      throw new Error("distillationLoss: the multi-task term needs soft labels generated with tasks: true");
    }
    const teacherTasks: Record<string, Float32Array> = {};
    for (const [name, values] of Object.entries(labels.taskScores)) teacherTasks[name] = gatherRows(values, rows, L);
    sum.add("multiTask", w.multiTask, multiTaskSoftLoss(heads, teacherTasks, T, weights.taskWeights));
  }
}

const groupsByPopularity = new WeakMap<Int32Array, Map<number, Int32Array>>();

/** UnKD over the lists' logits [R, L]: the teacher's order in pairs within each popularity group. */
function unkdTerm(
  scores: Tensor,
  labels: SoftLabels,
  rows: Int32Array,
  weights: DistillWeights,
  context: ListTermContext,
): Tensor {
  const popularity = context.itemPopularity;
  if (!popularity) throw new Error("distillationLoss: the unkd term needs the items' training popularity");
  const groups = weights.unkdGroups ?? 4;
  let byCount = groupsByPopularity.get(popularity);
  if (!byCount) groupsByPopularity.set(popularity, (byCount = new Map()));
  let groupOf = byCount.get(groups);
  if (!groupOf) byCount.set(groups, (groupOf = popularityGroups(popularity, groups)));
  const pairsPerGroup = weights.unkdPairs ?? 8;
  if (!Number.isInteger(pairsPerGroup) || pairsPerGroup < 1) {
    throw new RangeError(`distillationLoss: unkdPairs must be an integer ≥ 1, got ${pairsPerGroup}`);
  }
  const temperature = weights.unkdTemperature ?? 10;
  const pairs = stratifiedPairs(labels, rows, groupOf, pairsPerGroup, temperature, context.rng ?? defaultRng);
  return pairwiseListLoss(scores, pairs);
}

/** A sample size within a slice of `width`: `value` (at most the width), default the whole slice. */
function sliceCount(name: string, value: number | undefined, width: number): number {
  const n = value ?? width;
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`distillationLoss: ${name} must be an integer ≥ 1, got ${n}`);
  return Math.min(n, width);
}

/**
 * `weights` with every list term's weight multiplied by `factor` (the hard, hint and experts terms keep
 * theirs): how the distillation program turns the list terms' mean over a batch's lists into their sum
 * over the lists divided by the batch's samples, so that each list weighs as much wherever it lands.
 */
export function scaleListTerms(weights: DistillWeights, factor: number): DistillWeights {
  const w = listWeights(weights);
  const scaled: DistillWeights = { ...weights };
  for (const term of Object.keys(w) as (keyof ListWeights)[]) if (w[term] !== 0) scaled[term] = w[term] * factor;
  return scaled;
}

/** Ranking distillation of the lists' logits [R, L]: position weights, or the hybrid ones with `rankingDynamic`. */
function rankingTerm(scores: Tensor, labels: SoftLabels, weights: DistillWeights, context: ListTermContext): Tensor {
  const { positives: P, topK: K, listLength: L } = labels;
  const top = ops.sliceLastDim(scores, P, P + sliceCount("rankingTopK", weights.rankingTopK, K));
  const lambda = weights.rankingLambda ?? 10;
  const mu = weights.rankingDynamic ?? 0;
  if (mu === 0) return rankingDistillationLoss(top, lambda);
  if (context.numItems === undefined) throw new Error("distillationLoss: rankingDynamic needs the catalogue size");
  if (L === P + K) throw new Error("distillationLoss: rankingDynamic needs sampled items in the soft-label lists");
  const sampled = ops.sliceLastDim(scores, P + K, L);
  const rowWeights = rankingHybridWeights(top.data, sampled.data, top.shape[1]!, context.numItems, { lambda, mu });
  return rankingDistillationLoss(top, lambda, rowWeights);
}

/** Relaxed ranking's interesting [R, Ki] (teacher order) and uninteresting [R, Mu] logits, sampled when asked. */
function relaxedRankingItems(
  scores: Tensor,
  labels: SoftLabels,
  weights: DistillWeights,
  rng: DataRng,
): { interesting: Tensor; uninteresting: Tensor } {
  const { positives: P, topK: K, listLength: L, negatives: N } = labels;
  const R = scores.shape[0]!;
  const ki = sliceCount("rrdInteresting", weights.rrdInteresting, K);
  const mu = N === 0 ? 0 : sliceCount("rrdUninteresting", weights.rrdUninteresting, N);
  const interesting =
    ki === K
      ? ops.sliceLastDim(scores, P, P + K)
      : gatherColumns(
          scores,
          sampledColumns(R, ki, P, () => rankDiscountedSample(K, ki, weights.rrdTemperature ?? 10, rng)),
          ki,
        );
  const uninteresting =
    mu === N
      ? ops.sliceLastDim(scores, P + K, L)
      : gatherColumns(
          scores,
          sampledColumns(R, mu, P + K, () => uniformSample(N, mu, rng)),
          mu,
        );
  return { interesting, uninteresting };
}

/** R rows of `width` columns, each `offset` + a fresh draw. */
function sampledColumns(R: number, width: number, offset: number, draw: () => Int32Array): Int32Array {
  const out = new Int32Array(R * width);
  for (let r = 0; r < R; r++) {
    const picks = draw();
    for (let c = 0; c < width; c++) out[r * width + c] = offset + picks[c]!;
  }
  return out;
}

/**
 * The DE term of a batch as DE-RRD's code weighs it beside a summed BPR loss, here per sample: (Σ over the
 * batch's distinct users + ½ Σ over its distinct positives + ½ Σ over its distinct negatives of
 * ‖t − Σ_e a_e · expert_e(s)‖²) / the batch's samples, so `weights.experts` is the paper's λ_DE. Student and
 * teacher are dot-product models (their embeddings are their user and item vectors).
 */
function expertsLoss(
  student: Recommender,
  batch: TrainBatch,
  experts: NonNullable<DistillExtras["experts"]>,
  teacher: TeacherVectors,
  rng: DataRng,
): Tensor {
  const { module, temperature } = experts;
  if (!isDotProduct(student)) {
    throw new Error(`distillationLoss: the experts term needs a dot-product student (${student.kind})`);
  }
  const samples = batch.users.length;
  // ExpertGroup.loss is the mean over its entities: × count / samples makes it their sum per sample.
  const term = (ids: Int32Array, side: "user" | "item", share: number): Tensor =>
    ops.scale(
      side === "user"
        ? module.users.loss(student.userVectors(new Ids(ids)), teacher.users(ids), temperature, rng)
        : module.items.loss(student.itemVectors(new Ids(ids)), teacher.items(ids), temperature, rng),
      (share * ids.length) / samples,
    );
  return ops.add(
    term(distinctRows(batch.users), "user", 1),
    ops.add(term(distinctRows(batch.positives), "item", 0.5), term(distinctRows(batch.negatives), "item", 0.5)),
  );
}

/**
 * The topology term of a batch over its distinct users and distinct positive items (the reference's
 * batch entities), in one space: FTD over all of them, or HTD with each entity's group its most likely
 * expert under the experts' selection network (users' groups apart from items').
 */
function topologyTerm(
  student: Recommender,
  batch: TrainBatch,
  teacher: TeacherVectors,
  kind: "full" | "hierarchical",
  experts: DistillationExperts | undefined,
): Tensor {
  if (!isDotProduct(student)) {
    throw new Error(`distillationLoss: the topology term needs a dot-product student (${student.kind})`);
  }
  const users = distinctRows(batch.users);
  const items = distinctRows(batch.positives);
  const teacherUsers = teacher.users(users);
  const teacherItems = teacher.items(items);
  const teacherAll = new Float32Array(teacherUsers.length + teacherItems.length);
  teacherAll.set(teacherUsers);
  teacherAll.set(teacherItems, teacherUsers.length);
  const entities = ops.concat([student.userVectors(new Ids(users)), student.itemVectors(new Ids(items))], 0);
  if (kind === "full") return fullTopologyLoss(entities, teacherAll);
  const groups = new Int32Array(users.length + items.length);
  groups.set(mostLikelyGroups(experts!.users, teacherUsers, users.length));
  const itemGroups = mostLikelyGroups(experts!.items, teacherItems, items.length);
  itemGroups.forEach((g, k) => (groups[users.length + k] = g + experts!.users.count));
  return hierarchicalTopologyLoss(entities, teacherAll, groups);
}

/** Each of n entities' most likely expert under the group's selection network on its teacher embedding. */
function mostLikelyGroups(group: ExpertGroup, teacher: Float32Array, n: number): Int32Array {
  const logits = noGrad(() =>
    Float32Array.from(group.selection.forward(Tensor.from(teacher, [n, group.teacherDim])).data),
  );
  const E = group.count;
  return Int32Array.from({ length: n }, (_, r) => {
    let best = 0;
    for (let e = 1; e < E; e++) if (logits[r * E + e]! > logits[r * E + best]!) best = e;
    return best;
  });
}
