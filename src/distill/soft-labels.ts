/**
 * Soft labels: what the teacher thinks of a fixed-length candidate list per user, generated once and
 * cached on disk, so student training never runs the teacher.
 *
 * Each row (one user) holds a list of L = P + K + N items in three positional slices:
 *
 *   [0, P)        observed positives of the user (train items; kind 0)
 *   [P, P + K)    the teacher's top-K unobserved items, in the teacher's rank order (kind 2)
 *   [P + K, L)    uniformly sampled unobserved items, distinct, outside the top-K (kind 1)
 *
 * with the teacher's raw logits for every slot. Temperatures are applied when a loss is computed, never
 * stored, so one file serves every temperature. A user with 0 < c < P train items repeats them to fill
 * the observed slice; a user with none gets sampled negatives there (kind 1), so the slices keep their
 * positions and `kinds` tells the truth.
 *
 * The lists are cached on disk by soft-label-cache.ts.
 */
import { DataRng } from "../data/rng.js";
import { UniformSampler, sampleCandidates, type UserItemIndex } from "../data/sampling.js";
import { Ids } from "../engine/ops/embedding.js";
import { endStep, noGrad } from "../engine/tensor.js";
import { topK as topScored } from "../eval/metrics.js";
import type { HistoryInputs } from "../models/context.js";
import type { Recommender } from "../models/recommender.js";

/** Slot kinds in `SoftLabels.kinds`. */
export const KIND_OBSERVED = 0;
export const KIND_NEGATIVE = 1;
export const KIND_TOP_K = 2;

/** The teacher's view of one candidate list per user (see the file comment for the layout). */
export interface SoftLabels {
  /** The user of each row. */
  users: Int32Array;
  /** L = positives + topK + negatives. */
  listLength: number;
  /** P: width of the observed slice [0, P). */
  positives: number;
  /** K: width of the top-K slice [P, P + K). */
  topK: number;
  /** N: width of the sampled-negative slice [P + K, L). */
  negatives: number;
  /** Candidate items, [rows × L]. */
  items: Int32Array;
  /** The teacher's logits for `items`, [rows × L]. */
  teacherScores: Float32Array;
  /** 0 = observed positive, 1 = sampled negative, 2 = teacher top-K; [rows × L]. */
  kinds: Uint8Array;
  /** The teacher's top-K unobserved items in rank order, [rows × K] (the same as the top-K slice). */
  topKItems: Int32Array;
  /** Per task head, the teacher's logits for `items` [rows × L] (multi-task teachers). */
  taskScores?: Record<string, Float32Array>;
}

/** The slices of one list, to place with {@link setSoftLabelRow}. */
export interface SoftLabelRow {
  /** The list's user. */
  user: number;
  /** The P items of the observed slice. */
  observed: ArrayLike<number>;
  /** The observed slice's kind: observed positives (default), or sampled fillers for a user with none. */
  observedKind?: typeof KIND_OBSERVED | typeof KIND_NEGATIVE;
  /** The teacher's best unobserved items, best first: at most K (sampled items fill the rest of the slice). */
  top: ArrayLike<number>;
  /** Sampled unobserved items, after `top`: L − P − top.length of them. */
  sampled: ArrayLike<number>;
}

/** Soft labels of `rows` empty lists of P observed, K top-K and N sampled slots, for setSoftLabelRow to fill. */
export function allocateSoftLabels(rows: number, positives: number, topK: number, negatives: number): SoftLabels {
  const L = positives + topK + negatives;
  return {
    users: new Int32Array(rows),
    listLength: L,
    positives,
    topK,
    negatives,
    items: new Int32Array(rows * L),
    teacherScores: new Float32Array(rows * L),
    kinds: new Uint8Array(rows * L),
    topKItems: new Int32Array(rows * topK),
  };
}

/** Place list `r`: its user, its slices' items and kinds, and the teacher's logits `scores[item]` of each. */
export function setSoftLabelRow(labels: SoftLabels, r: number, row: SoftLabelRow, scores: ArrayLike<number>): void {
  const { listLength: L, positives: P, topK: K, items, kinds } = labels;
  if (row.observed.length !== P || row.top.length > K || P + row.top.length + row.sampled.length !== L) {
    throw new RangeError(
      `setSoftLabelRow: ${row.observed.length} observed, ${row.top.length} top and ${row.sampled.length} sampled ` +
        `items do not fill a list of P ${P} + K ${K} + N ${labels.negatives}`,
    );
  }
  const base = r * L;
  labels.users[r] = row.user;
  items.set(row.observed, base);
  kinds.fill(row.observedKind ?? KIND_OBSERVED, base, base + P);
  items.set(row.top, base + P);
  kinds.fill(KIND_TOP_K, base + P, base + P + row.top.length);
  items.set(row.sampled, base + P + row.top.length);
  kinds.fill(KIND_NEGATIVE, base + P + row.top.length, base + L);
  labels.topKItems.set(items.subarray(base + P, base + P + K), r * K);
  for (let j = base; j < base + L; j++) labels.teacherScores[j] = scores[items[j]!]!;
}

/** Options of `generateSoftLabels`. */
export interface SoftLabelOptions {
  /** Users to build lists for, one row each, in this order. */
  users: Int32Array;
  /** Train items per user: observed positives come from here; top-K and negatives avoid them. */
  seen: UserItemIndex;
  /** P, observed items per list (default 1). */
  positivesPerUser?: number;
  /** How observed items are chosen: seeded random (default) or the latest ones in `histories`. */
  positiveSelection?: "random" | "recent";
  /** Chronological histories for "recent" (default: the teacher's context.histories). */
  histories?: HistoryInputs;
  /** N, uniform unobserved negatives per list. */
  negatives: number;
  /** K, teacher top-K unobserved items per list. */
  topK: number;
  seed: number;
  /** Catalogue size (items 0..numItems-1). */
  numItems: number;
  /** Also record every task head's logits (teacher.forwardTasks) in `taskScores`. */
  tasks?: boolean;
}

function checkCount(what: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) {
    throw new RangeError(`generateSoftLabels: ${what} must be an integer ≥ ${min}, got ${value}`);
  }
}

/**
 * Score the catalogue with the teacher once per user and build the candidate lists. The teacher's
 * scorer resets the scratch arena, so call this between training steps, never with live scratch tensors.
 */
export function generateSoftLabels(teacher: Recommender, options: SoftLabelOptions): SoftLabels {
  const scorer = noGrad(() => teacher.scorer());
  try {
    const labels = softLabelsFrom(
      (user) => noGrad(() => scorer.scoreAll({ user })),
      options,
      teacher.context.histories,
    );
    if (options.tasks) labels.taskScores = teacherTaskScores(teacher, labels);
    return labels;
  } finally {
    scorer.dispose?.();
  }
}

/** How several teachers' scores become one: see {@link consensusScores}. */
export const CONSENSUS_KINDS = ["rank", "score"] as const;
export type ConsensusKind = (typeof CONSENSUS_KINDS)[number];

/**
 * One user's consensus of several teachers' catalogue scores (each [numItems]), as logits:
 *
 * - "score": each teacher's scores standardised over the catalogue (z-scores: mean 0, sd 1), averaged, so
 *   teachers whose logits live on different scales (BPR dot products, BCE logits) weigh alike;
 * - "rank": each teacher's ranks (0 = its best item) as −log(1 + rank), averaged: only the orders count,
 *   the top ranks most (a rank-averaged consensus).
 */
export function consensusScores(scores: readonly Float32Array[], kind: ConsensusKind): Float32Array {
  if (scores.length === 0) throw new RangeError("consensusScores: no teacher scores");
  const n = scores[0]!.length;
  const out = new Float64Array(n);
  for (const s of scores) {
    if (s.length !== n) throw new RangeError(`consensusScores: ${s.length} scores beside ${n}`);
    if (kind === "score") {
      let mean = 0;
      for (let i = 0; i < n; i++) mean += s[i]!;
      mean /= n;
      let variance = 0;
      for (let i = 0; i < n; i++) variance += (s[i]! - mean) ** 2;
      const sd = Math.sqrt(variance / n) || 1;
      for (let i = 0; i < n; i++) out[i]! += (s[i]! - mean) / sd;
    } else {
      // Best first; ties keep the smaller item id first.
      const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => s[b]! - s[a]! || a - b);
      order.forEach((item, rank) => (out[item]! -= Math.log1p(rank)));
    }
  }
  return Float32Array.from(out, (x) => x / scores.length);
}

/**
 * Soft labels from the consensus of several teachers (ensemble distillation): the lists are built from
 * the consensus logits of {@link consensusScores} exactly as {@link generateSoftLabels} builds them from
 * one teacher's, so every method distils the ensemble's ranking. Teachers of different kinds are welcome;
 * multi-task scores are not (`tasks` must be off). "recent" positives read the first teacher's histories.
 */
export function generateEnsembleSoftLabels(
  teachers: readonly Recommender[],
  options: SoftLabelOptions,
  kind: ConsensusKind,
): SoftLabels {
  if (teachers.length === 0) throw new RangeError("generateEnsembleSoftLabels: no teachers");
  if (options.tasks) throw new Error("generateEnsembleSoftLabels: task scores come from one teacher, not an ensemble");
  const scorers = teachers.map((t) => noGrad(() => t.scorer()));
  try {
    const consensus = (user: number) =>
      consensusScores(
        scorers.map((s) => noGrad(() => s.scoreAll({ user })).subarray(0, options.numItems)),
        kind,
      );
    return softLabelsFrom(consensus, options, teachers[0]!.context.histories);
  } finally {
    for (const s of scorers) s.dispose?.();
  }
}

/** The lists of `options`, from each user's catalogue scores `scoreAll(user)`. */
function softLabelsFrom(
  scoreAll: (user: number) => Float32Array,
  options: SoftLabelOptions,
  contextHistories: HistoryInputs | undefined,
): SoftLabels {
  const { users, seen, negatives, topK, numItems, seed } = options;
  const positives = options.positivesPerUser ?? 1;
  checkCount("positivesPerUser", positives, 0);
  checkCount("negatives", negatives, 0);
  checkCount("topK", topK, 0);
  checkCount("numItems", numItems, 1);
  const L = positives + topK + negatives;
  if (L === 0) throw new RangeError("generateSoftLabels: the lists would be empty (P + K + N = 0)");
  const selection = options.positiveSelection ?? "random";
  const histories = options.histories ?? contextHistories;
  if (selection === "recent" && !histories) {
    throw new Error('generateSoftLabels: positiveSelection "recent" needs histories (none given, none in context)');
  }

  const labels = allocateSoftLabels(users.length, positives, topK, negatives);
  // Two independent streams, so changing P does not change which negatives are drawn.
  const positiveRng = new DataRng(seed);
  const sampler = new UniformSampler(seen, numItems, { seed: (seed ^ 0x2545f491) | 0 });
  users.forEach((user, r) => {
    const seenItems = user < seen.numUsers ? seen.itemsOf(user) : new Int32Array(0);
    const scores = scoreAll(user);
    if (scores.length < numItems) {
      throw new Error(`generateSoftLabels: the teacher scored ${scores.length} items, expected ${numItems}`);
    }
    // Observed slice: the chosen items repeated, or sampled fillers for a user with none.
    const chosen =
      selection === "recent"
        ? recentPositives(histories!, seen, user, positives, positiveRng)
        : randomPositives(seenItems, positives, positiveRng);
    const fillers =
      positives > 0 && chosen.length === 0 ? drawNegatives(user, [], positives, sampler, seen, numItems) : null;
    const observed = fillers ?? Int32Array.from({ length: positives }, (_, j) => chosen[j % chosen.length]!);
    // Top-K slice, best first.
    const top = topUnseen(scores, numItems, seenItems, topK, user);
    // Negative slice: distinct, unseen, outside the top-K (and outside negatives used as fillers).
    const exclude = Array.from(top);
    if (fillers) for (const e of fillers) exclude.push(e);
    const sampled = drawNegatives(user, exclude, negatives, sampler, seen, numItems);
    setSoftLabelRow(
      labels,
      r,
      { user, observed, observedKind: fillers ? KIND_NEGATIVE : KIND_OBSERVED, top, sampled },
      scores,
    );
  });
  return labels;
}

/** Up to `p` distinct observed items, a seeded random choice (partial Fisher–Yates on a copy). */
function randomPositives(seenItems: Int32Array, p: number, rng: DataRng): Int32Array {
  const pool = Int32Array.from(seenItems);
  const take = Math.min(p, pool.length);
  for (let i = 0; i < take; i++) {
    const j = i + rng.int(pool.length - i);
    const swap = pool[i]!;
    pool[i] = pool[j]!;
    pool[j] = swap;
  }
  return pool.subarray(0, take);
}

/** Up to `p` distinct train items the user interacted with last (newest first), random ones when too few. */
function recentPositives(
  histories: HistoryInputs,
  seen: UserItemIndex,
  user: number,
  p: number,
  rng: DataRng,
): Int32Array {
  const out: number[] = [];
  const taken = new Set<number>();
  if (user < histories.offsets.length - 1 && user < seen.numUsers) {
    const start = histories.offsets[user]!;
    for (let k = histories.offsets[user + 1]! - 1; k >= start && out.length < p; k--) {
      const item = histories.items[k]!;
      if (!taken.has(item) && seen.has(user, item)) {
        taken.add(item);
        out.push(item);
      }
    }
  }
  if (out.length < p && user < seen.numUsers) {
    const rest = seen.itemsOf(user).filter((i) => !taken.has(i));
    for (const i of randomPositives(rest, p - out.length, rng)) out.push(i);
  }
  return Int32Array.from(out);
}

/** `n` distinct unseen negatives outside `exclude`, with a clear error when the user has too few unseen items. */
function drawNegatives(
  user: number,
  exclude: number[],
  n: number,
  sampler: UniformSampler,
  seen: UserItemIndex,
  numItems: number,
): Int32Array {
  if (n === 0) return new Int32Array(0);
  const seenCount = user < seen.numUsers ? seen.count(user) : 0;
  const available = numItems - seenCount - exclude.length;
  if (available < n) {
    throw new RangeError(
      `generateSoftLabels: user ${user} has ${numItems - seenCount} unseen items, too few for ` +
        `${exclude.length} top-K/filler items plus ${n} distinct negatives`,
    );
  }
  return sampleCandidates(user, exclude, n, sampler);
}

/**
 * The `k` highest-scored items outside `seenItems` (ascending), best first; ties go to the smaller item
 * id and NaN scores rank last (eval's topK over a mask of the seen items).
 */
export function topUnseen(
  scores: Float32Array,
  numItems: number,
  seenItems: Int32Array,
  k: number,
  user = -1,
): Int32Array {
  if (k === 0) return new Int32Array(0);
  const seen = new Uint8Array(numItems);
  for (const item of seenItems) if (item < numItems) seen[item] = 1;
  const best = topScored(scores.length > numItems ? scores.subarray(0, numItems) : scores, k, seen);
  if (best.length < k) {
    throw new RangeError(`generateSoftLabels: user ${user} has ${best.length} unseen items, fewer than topK = ${k}`);
  }
  return best;
}

/** Every task head's logits for the lists, via teacher.forwardTasks in chunks of whole rows. */
function teacherTaskScores(teacher: Recommender, labels: SoftLabels): Record<string, Float32Array> {
  const L = labels.listLength;
  const rows = labels.users.length;
  const out: Record<string, Float32Array> = {};
  const rowsPerChunk = Math.max(1, Math.floor(4096 / L));
  noGrad(() => {
    for (let start = 0; start < rows; start += rowsPerChunk) {
      const end = Math.min(rows, start + rowsPerChunk);
      const users = new Int32Array((end - start) * L);
      for (let r = start; r < end; r++) users.fill(labels.users[r]!, (r - start) * L, (r - start + 1) * L);
      const items = labels.items.subarray(start * L, end * L);
      const heads = teacher.forwardTasks({ users: new Ids(users), items: new Ids(items) });
      for (const [name, logits] of Object.entries(heads)) {
        (out[name] ??= new Float32Array(rows * L)).set(logits.data, start * L);
      }
      endStep();
    }
  });
  return out;
}

// ---- teacher probabilities -----------------------------------------------------------------------

/** Refuse a temperature that is not positive and finite. */
export function checkTemperature(op: string, T: number): void {
  if (!(T > 0) || !Number.isFinite(T)) throw new RangeError(`${op}: temperature must be positive and finite, got ${T}`);
}

/** Pointwise soft targets: sigmoid(s / T) for every score. */
export function sigmoidProbabilities(scores: Float32Array, T = 1): Float32Array {
  checkTemperature("sigmoidProbabilities", T);
  return Float32Array.from(scores, (s) => 1 / (1 + Math.exp(-s / T)));
}

/** Listwise soft targets: softmax(s / T) over each row of `listLength` scores (max-subtracted, float64 sums). */
export function softmaxProbabilities(scores: Float32Array, listLength: number, T = 1): Float32Array {
  checkTemperature("softmaxProbabilities", T);
  if (!(listLength > 0) || scores.length % listLength !== 0) {
    throw new RangeError(`softmaxProbabilities: ${scores.length} scores do not form rows of ${listLength}`);
  }
  const out = new Float32Array(scores.length);
  for (let base = 0; base < scores.length; base += listLength) {
    let max = -Infinity;
    for (let j = 0; j < listLength; j++) max = Math.max(max, scores[base + j]!);
    let total = 0;
    for (let j = 0; j < listLength; j++) total += Math.exp((scores[base + j]! - max) / T);
    for (let j = 0; j < listLength; j++) out[base + j] = Math.exp((scores[base + j]! - max) / T) / total;
  }
  return out;
}

/** The teacher's probabilities for a label set: pointwise sigmoid(s/T) or listwise softmax(s/T) per row. */
export function teacherProbabilities(labels: SoftLabels, T: number, mode: "pointwise" | "listwise"): Float32Array {
  return mode === "pointwise"
    ? sigmoidProbabilities(labels.teacherScores, T)
    : softmaxProbabilities(labels.teacherScores, labels.listLength, T);
}

/** Row of each user in `labels` (user → row, -1 when absent; the last row wins for repeated users). */
export function softLabelRowIndex(labels: SoftLabels, numUsers?: number): Int32Array {
  let max = numUsers ?? 0;
  for (const u of labels.users) max = Math.max(max, u + 1);
  const index = new Int32Array(max).fill(-1);
  labels.users.forEach((u, r) => (index[u] = r));
  return index;
}
