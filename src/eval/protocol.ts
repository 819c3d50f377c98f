/**
 * Evaluation protocols: sampled ranking (the PyTorch reference's leave-one-out protocol, 499 uniform
 * negatives), full-catalogue ranking, task heads as classification on the sampled lists (the metrics
 * themselves in ./classification.ts), teacher–student fidelity, and the segments (cold users, long-tail
 * items) results are broken down by.
 */
import { DataRng } from "../data/rng.js";
import { buildUserItemIndex, type UserItemIndex } from "../data/sampling.js";
import type { Interactions } from "../data/types.js";
import type { Scorer, UserQuery } from "../models/recommender.js";
import { classificationMetrics } from "./classification.js";
import { MetricAccumulator, kendallTau, rankMetrics, spearman, topK, topKMetrics, topKOverlap } from "./metrics.js";

export { classificationMetrics, evaluateClassification, type ClassificationRows } from "./classification.js";

/** Names the segment a test case (user, test item) belongs to, or undefined to leave it out of every segment. */
export type SegmentOf = (user: number, item: number) => string | undefined;

/** Options shared by the ranking protocols. */
export interface RankingOptions {
  /** Items to exclude per user (train + valid): never sampled as negatives, masked in full ranking. */
  seen: UserItemIndex;
  numItems: number;
  /** Cut-offs of the @k metrics (default [10, 20]). */
  ks?: readonly number[];
  /** The query to score for a user (default `{ user }`): pass histories for sequence models. */
  query?: (user: number) => UserQuery;
  segmentOf?: SegmentOf;
}

/** Options of {@link evaluateSampled}. */
export interface SampledOptions extends RankingOptions {
  /** Negatives per test case (default 499, as the reference). */
  negatives?: number;
  /** Seed of the candidate lists (default 0); the same seed gives every model the same lists. */
  seed?: number;
  /**
   * The candidate lists, drawn once by {@link sampledLists} with these options: a validation repeated every
   * epoch need not draw them again.
   */
  lists?: readonly SampledList[];
}

/** One test row's candidate list under the sampled protocol: its test item first, then the negatives. */
export interface SampledList {
  row: number;
  user: number;
  candidates: Int32Array;
}

/** The outcome of a ranking protocol. */
export interface RankingResult {
  /** Mean metrics over the test cases (`HR@k`, `NDCG@k`, `MRR@k`, `Recall@k`, `Precision@k`, `MRR`) and `count`. */
  metrics: Record<string, number>;
  /** 0-based rank of each case's (best) test item. */
  ranks: Int32Array;
  /** The user of each case. */
  users: Int32Array;
  /** The test item of each case (full ranking: the user's first test row). */
  items: Int32Array;
  /** The same metrics per segment, with `count` = cases in the segment. */
  segments: Record<string, Record<string, number>>;
  /** Full ranking: each case's top max(ks) items, best first (what beyond-accuracy.ts measures). */
  lists?: Int32Array[];
}

const DEFAULT_KS = [10, 20] as const;

/** A generator for one user's candidate draws: depends on the seed, the user and which of its cases this is. */
function caseRng(seed: number, user: number, occurrence: number): DataRng {
  return new DataRng(Math.imul(seed, 0x9e3779b1) ^ Math.imul(user + 1, 0x85ebca77) ^ Math.imul(occurrence, 0xc2b2ae3d));
}

/** Seen items of `user`, empty for users the index does not cover (cold users). */
function seenItems(seen: UserItemIndex, user: number): Int32Array {
  return user >= 0 && user < seen.numUsers ? seen.itemsOf(user) : new Int32Array(0);
}

/** The items of `items` within 0..numItems-1. */
function inRangeSet(items: Int32Array, numItems: number): Set<number> {
  const set = new Set<number>();
  for (const item of items) if (item >= 0 && item < numItems) set.add(item);
  return set;
}

/**
 * Up to `n` distinct items in 0..numItems-1 drawn uniformly without replacement from those not in `excluded`
 * (which must contain only in-range items). Rejection sampling while allowed items are plentiful, otherwise a
 * partial shuffle of the allowed list. Fewer than `n` come back when fewer are allowed.
 */
export function drawExcluding(excluded: ReadonlySet<number>, numItems: number, n: number, rng: DataRng): Int32Array {
  const available = numItems - excluded.size;
  const count = Math.max(0, Math.min(n, available));
  const out = new Int32Array(count);
  if (2 * count <= available) {
    const drawn = new Set<number>();
    for (let k = 0; k < count;) {
      const item = rng.int(numItems);
      if (excluded.has(item) || drawn.has(item)) continue;
      drawn.add(item);
      out[k++] = item;
    }
    return out;
  }
  const allowed = new Int32Array(available);
  for (let item = 0, at = 0; item < numItems; item++) if (!excluded.has(item)) allowed[at++] = item;
  for (let k = 0; k < count; k++) {
    const j = k + rng.int(available - k);
    out[k] = allowed[j]!;
    allowed[j] = allowed[k]!;
  }
  return out;
}

/** Options of {@link sampledCandidates}. */
export interface CandidateOptions {
  seen: UserItemIndex;
  numItems: number;
  /** Default 499. */
  negatives?: number;
  /** Default 0. */
  seed?: number;
  /** Which of the user's test cases this is (0 for leave-one-out), so several cases get different lists. */
  occurrence?: number;
}

/**
 * The candidate list of one sampled test case: `testItem` first, then `negatives` distinct items drawn
 * uniformly from those `user` has not seen and that are not among `positives` (the user's test items;
 * `testItem` is always excluded). Depends only on the seed, the user, the occurrence and the data, never on a
 * model, so every model is ranked on the same lists. When the user has fewer unseen items, all of them are used.
 */
export function sampledCandidates(
  user: number,
  testItem: number,
  options: CandidateOptions,
  positives: ArrayLike<number> = [testItem],
): Int32Array {
  const { seen, numItems, negatives = 499, seed = 0, occurrence = 0 } = options;
  const excluded = inRangeSet(seenItems(seen, user), numItems);
  if (testItem >= 0 && testItem < numItems) excluded.add(testItem);
  for (let k = 0; k < positives.length; k++) {
    const item = positives[k]!;
    if (item >= 0 && item < numItems) excluded.add(item);
  }
  const drawn = drawExcluding(excluded, numItems, negatives, caseRng(seed, user, occurrence));
  const candidates = new Int32Array(drawn.length + 1);
  candidates[0] = testItem;
  candidates.set(drawn, 1);
  return candidates;
}

/** Cases scored together by a scorer with scoreLists. */
const SCORE_CHUNK = 1024;

/**
 * Sampled ranking, as the PyTorch reference's `evaluate`: every test row is a case; its test item is ranked
 * against `negatives` items sampled uniformly from those the user has not seen (see {@link sampledCandidates});
 * rank = number of negatives scoring strictly higher than the test item, plus half of those tied with it
 * (rounded down: the expected rank under random tie-breaking, so a constant or collapsed model cannot look
 * perfect); a NaN score ranks above a number, a NaN test score last. Leave-one-out gives one case per user.
 */
export function evaluateSampled(scorer: Scorer, test: Interactions, options: SampledOptions): RankingResult {
  const { ks = DEFAULT_KS, query = (user: number) => ({ user }), segmentOf } = options;
  const ranks = new Int32Array(test.length);
  if (options.lists && options.lists.length !== test.length) {
    throw new RangeError(`sampled protocol: ${options.lists.length} candidate lists for ${test.length} test rows`);
  }
  const cases = options.lists ?? sampledCases(test, options);
  if (scorer.scoreLists) {
    // Scorers that encode users faster in batches get the cases a chunk at a time.
    const all = [...cases];
    for (let start = 0; start < all.length; start += SCORE_CHUNK) {
      const part = all.slice(start, start + SCORE_CHUNK);
      const scores = scorer.scoreLists(
        part.map((c) => query(c.user)),
        part.map((c) => c.candidates),
      );
      part.forEach((c, k) => (ranks[c.row] = rankOfFirst(scores[k]!)));
    }
  } else {
    for (const { row, user, candidates } of cases)
      ranks[row] = rankOfFirst(scorer.scoreCandidates(query(user), candidates));
  }
  const users = test.users.slice();
  const items = test.items.slice();
  return { ...summarise(ranks, users, items, ks, segmentOf), ranks, users, items };
}

/** Every test row's candidate list of the sampled protocol (its test item first), in row order. */
export function sampledLists(test: Interactions, options: SampledOptions): SampledList[] {
  return [...sampledCases(test, options)];
}

function* sampledCases(
  test: Interactions,
  options: SampledOptions,
): Generator<{ row: number; user: number; candidates: Int32Array }> {
  const testIndex = buildUserItemIndex(test, maxIndex(test.users) + 1);
  const occurrences = new Map<number, number>();
  for (let row = 0; row < test.length; row++) {
    const user = test.users[row]!;
    const occurrence = occurrences.get(user) ?? 0;
    occurrences.set(user, occurrence + 1);
    const candidates = sampledCandidates(user, test.items[row]!, { ...options, occurrence }, testIndex.itemsOf(user));
    yield { row, user, candidates };
  }
}

/**
 * Segment metrics of a sampled protocol's cases (as evaluateSampled's `segments`, from its one-positive ranks)
 * under another segmentation, so one run of the protocol can be broken down several ways.
 */
export function rankSegments(
  result: Pick<RankingResult, "ranks" | "users" | "items">,
  segmentOf: SegmentOf,
  ks: readonly number[] = DEFAULT_KS,
): Record<string, Record<string, number>> {
  return summarise(result.ranks, result.users, result.items, ks, segmentOf).segments;
}

/** The first score's rank among the rest: those above it (NaN counts as above), plus half of the ties. */
export function rankOfFirst(scores: Float32Array): number {
  const positive = scores[0]!;
  if (Number.isNaN(positive)) return scores.length - 1;
  let above = 0;
  let ties = 0;
  for (let k = 1; k < scores.length; k++) {
    const s = scores[k]!;
    if (s > positive || Number.isNaN(s)) above++;
    else if (s === positive) ties++;
  }
  return above + (ties >> 1);
}

function maxIndex(ids: Int32Array): number {
  let max = -1;
  for (const id of ids) if (id > max) max = id;
  return max;
}

/** Metrics from one-positive ranks, overall and per segment. */
function summarise(
  ranks: Int32Array,
  users: Int32Array,
  items: Int32Array,
  ks: readonly number[],
  segmentOf: SegmentOf | undefined,
): Pick<RankingResult, "metrics" | "segments"> {
  const metrics = { ...rankMetrics(ranks, ks), count: ranks.length };
  const segments: Record<string, Record<string, number>> = {};
  if (segmentOf) {
    const bySegment = new Map<string, number[]>();
    for (let c = 0; c < ranks.length; c++) {
      const name = segmentOf(users[c]!, items[c]!);
      if (name === undefined) continue;
      const list = bySegment.get(name);
      if (list) list.push(ranks[c]!);
      else bySegment.set(name, [ranks[c]!]);
    }
    for (const [name, list] of bySegment) segments[name] = { ...rankMetrics(list, ks), count: list.length };
  }
  return { metrics, segments };
}

/**
 * Full-catalogue ranking: each test user's scores over all items (`scorer.scoreAll`), the user's seen items
 * masked (except its test items), the top max(ks) picked by partial selection (ties to the lower item id),
 * and multi-positive metrics against all the user's test items (NDCG normalised by the ideal DCG). One case
 * per user; `ranks` holds the 0-based position of the user's best-placed test item among the unmasked
 * non-test items (same tie rule), `lists` each user's top max(ks), and `segmentOf` sees the user's first test
 * row.
 */
export function evaluateFullRanking(scorer: Scorer, test: Interactions, options: RankingOptions): RankingResult {
  const { seen, numItems, ks = DEFAULT_KS, query = (user: number) => ({ user }), segmentOf } = options;
  const numTestUsers = maxIndex(test.users) + 1;
  const testIndex = buildUserItemIndex(test, numTestUsers);
  const firstItem = new Int32Array(numTestUsers).fill(-1);
  const order: number[] = [];
  for (let r = 0; r < test.length; r++) {
    const user = test.users[r]!;
    if (firstItem[user] !== -1) continue;
    firstItem[user] = test.items[r]!;
    order.push(user);
  }
  order.sort((a, b) => a - b);
  const depth = Math.max(0, ...ks);
  const excluded = new Uint8Array(numItems);
  const isRelevant = new Uint8Array(numItems);
  const accumulator = new MetricAccumulator();
  const segmentSizes = new Map<string, number>();
  const ranks = new Int32Array(order.length);
  const lists: Int32Array[] = [];
  for (const [c, user] of order.entries()) {
    const relevant = testIndex.itemsOf(user);
    const userSeen = seenItems(seen, user);
    for (const item of relevant) isRelevant[item] = 1;
    for (const item of userSeen) if (!isRelevant[item]) excluded[item] = 1;
    const all = scorer.scoreAll(query(user));
    if (all.length < numItems) throw new RangeError(`evaluateFullRanking: scoreAll gave ${all.length} < ${numItems}`);
    const scores = all.subarray(0, numItems);
    const ranked = topK(scores, depth, excluded);
    lists.push(ranked);
    const values: Record<string, number> = {};
    for (const k of ks) {
      const m = topKMetrics(ranked, relevant, k);
      values[`HR@${k}`] = m.hit;
      values[`NDCG@${k}`] = m.ndcg;
      values[`MRR@${k}`] = m.rr;
      values[`Recall@${k}`] = m.recall;
      values[`Precision@${k}`] = m.precision;
    }
    ranks[c] = bestRelevantPosition(scores, relevant, excluded, isRelevant);
    values["MRR"] = 1 / (ranks[c]! + 1);
    const segment = segmentOf?.(user, firstItem[user]!);
    accumulator.add(values, segment);
    if (segment !== undefined) segmentSizes.set(segment, (segmentSizes.get(segment) ?? 0) + 1);
    for (const item of relevant) isRelevant[item] = 0;
    for (const item of userSeen) excluded[item] = 0;
  }
  const segments = accumulator.segments();
  for (const [name, size] of segmentSizes) segments[name]!["count"] = size;
  const users = Int32Array.from(order);
  const items = Int32Array.from(order, (user) => firstItem[user]!);
  return { metrics: { ...accumulator.result(), count: order.length }, ranks, users, items, segments, lists };
}

/** Number of allowed non-relevant items ordered before the best relevant item (score desc, then id asc). */
function bestRelevantPosition(
  scores: Float32Array,
  relevant: Int32Array,
  excluded: Uint8Array,
  isRelevant: Uint8Array,
): number {
  const value = (i: number) => (Number.isNaN(scores[i]!) ? -Infinity : scores[i]!);
  let best = relevant[0]!;
  for (const item of relevant) if (value(item) > value(best)) best = item; // ascending ids: ties keep the lower id
  const bestScore = value(best);
  let position = 0;
  for (let i = 0; i < scores.length; i++) {
    if (excluded[i] || isRelevant[i]) continue;
    const s = value(i);
    if (s > bestScore || (s === bestScore && i < best)) position++;
  }
  return position;
}

/** How many times each id in 0..size-1 occurs (e.g. train interactions per user, or item popularity). */
export function countOccurrences(ids: Int32Array, size: number): Int32Array {
  const counts = new Int32Array(size);
  for (const id of ids) if (id >= 0 && id < size) counts[id]!++;
  return counts;
}

/**
 * "cold users" (at most `threshold` train interactions; users beyond `trainCounts` count as 0) versus
 * "warm users".
 */
export function coldUserSegment(trainCounts: ArrayLike<number>, threshold: number): SegmentOf {
  return (user) => ((user < trainCounts.length ? trainCounts[user]! : 0) <= threshold ? "cold users" : "warm users");
}

/** The segment of test cases whose held-out item is in the long tail (see {@link headItems}). */
export const LONG_TAIL_ITEMS = "long-tail items";
/** The segment of test cases whose held-out item is a head item. */
export const HEAD_ITEMS = "head items";

/**
 * The project's one head/tail split of the catalogue, which every long-tail figure uses: an item is a head item
 * (1) when it is at least as popular as the ⌈headFraction · numItems⌉-th most popular item (ties at the boundary
 * all count as head), never when its popularity is 0; every other item is in the long tail (0).
 */
export function headItems(itemPopularity: ArrayLike<number>, headFraction = 0.2): Uint8Array {
  const sorted = Float64Array.from(itemPopularity).sort().reverse();
  const headCount = Math.ceil(headFraction * sorted.length);
  const threshold = headCount === 0 ? Infinity : Math.max(sorted[headCount - 1]!, Number.MIN_VALUE);
  return Uint8Array.from(itemPopularity, (popularity) => (popularity >= threshold ? 1 : 0));
}

/** "head items" versus "long-tail items" by the test item's popularity, split by {@link headItems}. */
export function longTailSegment(itemPopularity: ArrayLike<number>, headFraction = 0.2): SegmentOf {
  const head = headItems(itemPopularity, headFraction);
  return (_user, item) => (item >= 0 && item < head.length && head[item] ? HEAD_ITEMS : LONG_TAIL_ITEMS);
}

/** Logits of every task head (keyed by task) for one user's candidates. */
export type TaskScorer = (query: UserQuery, items: Int32Array) => Record<string, Float32Array>;

/**
 * Classification metrics (see {@link classificationMetrics}) of task heads on the sampled protocol's lists:
 * every test row is a case labelled `labels[task][row]` (e.g. 1 for the main, click-style task: the user did
 * interact; the row's conversion label for a conversion head), and every negative it is ranked against in
 * {@link evaluateSampled} (the same options give the same lists) a case labelled 0, so that AUC compares
 * engaged items with items the user never touched. Probabilities are σ(logit); GAUC groups by user. Only the
 * tasks in `labels` are evaluated, each of which `score` must return.
 */
export function evaluateTasks(
  score: TaskScorer,
  test: Interactions,
  labels: Record<string, ArrayLike<number>>,
  options: SampledOptions,
): Record<string, Record<string, number>> {
  const { query = (user: number) => ({ user }) } = options;
  const tasks = Object.keys(labels);
  for (const task of tasks) {
    if (labels[task]!.length !== test.length) {
      throw new RangeError(`evaluateTasks: ${labels[task]!.length} "${task}" labels for ${test.length} test rows`);
    }
  }
  const probabilities: Record<string, number[]> = Object.fromEntries(tasks.map((t) => [t, []]));
  const targets: Record<string, number[]> = Object.fromEntries(tasks.map((t) => [t, []]));
  const groups: number[] = [];
  if (options.lists && options.lists.length !== test.length) {
    throw new RangeError(`sampled protocol: ${options.lists.length} candidate lists for ${test.length} test rows`);
  }
  for (const { row, user, candidates } of options.lists ?? sampledCases(test, options)) {
    const logits = score(query(user), candidates);
    for (const task of tasks) {
      const values = logits[task];
      if (!values) throw new Error(`evaluateTasks: the scorer gave no logits for task "${task}"`);
      const out = probabilities[task]!;
      const target = targets[task]!;
      for (let k = 0; k < candidates.length; k++) {
        out.push(1 / (1 + Math.exp(-values[k]!)));
        target.push(k === 0 ? labels[task]![row]! : 0);
      }
    }
    for (let k = 0; k < candidates.length; k++) groups.push(user);
  }
  return Object.fromEntries(
    tasks.map((task) => [task, classificationMetrics(probabilities[task]!, targets[task]!, groups)]),
  );
}

/** Options of {@link fidelity}. */
export interface FidelityOptions {
  numItems: number;
  /** Top-K size of the overlap (default 10). */
  k?: number;
  /** Items excluded per user from the top K and from the correlation sample (e.g. train items). */
  seen?: UserItemIndex;
  /** Items per user for the rank correlations (default 200). */
  sampleSize?: number;
  /** Seed of the correlation samples (default 0). */
  seed?: number;
  query?: (user: number) => UserQuery;
}

/** How closely a student reproduces a teacher, averaged over users. */
export interface FidelityResult {
  /** Mean |top-K(teacher) ∩ top-K(student)| / K over the full catalogue (seen items excluded). */
  topKOverlap: number;
  /** Mean Spearman correlation over each user's sample of items (users with a constant side skipped). */
  spearman: number;
  /** Mean Kendall tau-b over the same samples. */
  kendall: number;
  /** Users evaluated. */
  users: number;
}

/**
 * Teacher–student fidelity: per user, the top-K overlap over the whole catalogue, and the rank correlations of
 * the two models' scores over a fixed sample of at most `sampleSize` unseen items (the same for both models).
 */
export function fidelity(
  teacher: Scorer,
  student: Scorer,
  users: Int32Array,
  options: FidelityOptions,
): FidelityResult {
  const { numItems, k = 10, seen, sampleSize = 200, seed = 0, query = (user: number) => ({ user }) } = options;
  const excluded = new Uint8Array(numItems);
  let overlap = 0;
  const correlations = { spearman: 0, spearmanUsers: 0, kendall: 0, kendallUsers: 0 };
  for (const user of users) {
    const userSeen = seen ? seenItems(seen, user) : new Int32Array(0);
    for (const item of userSeen) excluded[item] = 1;
    const q = query(user);
    const a = teacher.scoreAll(q).subarray(0, numItems);
    const b = student.scoreAll(q).subarray(0, numItems);
    overlap += topKOverlap(a, b, k, excluded);
    const sample = drawExcluding(inRangeSet(userSeen, numItems), numItems, sampleSize, caseRng(seed, user, 0));
    const sampleA = Float64Array.from(sample, (i) => a[i]!);
    const sampleB = Float64Array.from(sample, (i) => b[i]!);
    const rho = spearman(sampleA, sampleB);
    if (Number.isFinite(rho)) {
      correlations.spearman += rho;
      correlations.spearmanUsers++;
    }
    const tau = kendallTau(sampleA, sampleB);
    if (Number.isFinite(tau)) {
      correlations.kendall += tau;
      correlations.kendallUsers++;
    }
    for (const item of userSeen) excluded[item] = 0;
  }
  const mean = (sum: number, n: number) => (n === 0 ? NaN : sum / n);
  return {
    topKOverlap: mean(overlap, users.length),
    spearman: mean(correlations.spearman, correlations.spearmanUsers),
    kendall: mean(correlations.kendall, correlations.kendallUsers),
    users: users.length,
  };
}
