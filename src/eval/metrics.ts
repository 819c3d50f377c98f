/**
 * Evaluation metrics as pure functions: top-K ranking metrics (one or several held-out positives),
 * classification metrics (AUC, GAUC, log loss, F1), fidelity between two score vectors (top-K overlap,
 * Spearman, Kendall) and a partial top-K selection.
 */

/** Binary labels: a row is positive when its label is > 0.5 (so 0/1, booleans cast to numbers, or soft labels). */
export type Labels = ArrayLike<number>;

/** Per-user metrics of one ranked list, see {@link topKMetrics}. */
export interface TopKResult {
  /** 1 when at least one relevant item is in the top K, else 0. */
  hit: number;
  /** DCG of the top K divided by the ideal DCG (all relevant items first, at most K of them). */
  ndcg: number;
  /** Relevant items in the top K / number of relevant items. */
  recall: number;
  /** Relevant items in the top K / K. */
  precision: number;
  /** 1 / (1 + position of the first relevant item in the top K), 0 when there is none. */
  rr: number;
}

/** Binary classification metrics at a threshold, see {@link binaryMetrics}. */
export interface BinaryMetrics {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
}

/** The discount of 0-based position p: 1 / log2(p + 2). */
function discount(position: number): number {
  return 1 / Math.log2(position + 2);
}

/**
 * Ranking metrics when each user has exactly one held-out positive, from its 0-based rank among the
 * candidates, averaged over users: for every k, `HR@k` (rank < k), `NDCG@k` (1 / log2(rank + 2) when
 * rank < k), `MRR@k` (1 / (rank + 1) when rank < k), `Recall@k` and `Precision@k`; plus `MRR` without
 * cut-off. With one positive, Recall@k equals HR@k and Precision@k equals HR@k / k. No users give zeros.
 */
export function rankMetrics(ranks: Int32Array | readonly number[], ks: readonly number[]): Record<string, number> {
  const n = ranks.length;
  const out: Record<string, number> = {};
  for (const k of ks) {
    let hits = 0;
    let ndcg = 0;
    let mrr = 0;
    for (let u = 0; u < n; u++) {
      const rank = ranks[u]!;
      if (rank < k) {
        hits++;
        ndcg += discount(rank);
        mrr += 1 / (rank + 1);
      }
    }
    const mean = (sum: number) => (n === 0 ? 0 : sum / n);
    out[`HR@${k}`] = mean(hits);
    out[`NDCG@${k}`] = mean(ndcg);
    out[`MRR@${k}`] = mean(mrr);
    out[`Recall@${k}`] = mean(hits);
    out[`Precision@${k}`] = mean(hits) / k;
  }
  let mrr = 0;
  for (let u = 0; u < n; u++) mrr += 1 / (ranks[u]! + 1);
  out["MRR"] = n === 0 ? 0 : mrr / n;
  return out;
}

/** Whether `item` is in `relevant` (a Set, or an ascending Int32Array searched by bisection). */
function contains(relevant: ReadonlySet<number> | Int32Array, item: number): boolean {
  if (!(relevant instanceof Int32Array)) return relevant.has(item);
  let lo = 0;
  let hi = relevant.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const value = relevant[mid]!;
    if (value === item) return true;
    if (value < item) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/**
 * Metrics of one user's ranked list (best first; only its first `k` entries count) against the user's
 * relevant items (a Set or an ascending Int32Array). A user without relevant items gets zeros.
 */
export function topKMetrics(ranked: Int32Array, relevant: ReadonlySet<number> | Int32Array, k: number): TopKResult {
  const numRelevant = relevant instanceof Int32Array ? relevant.length : relevant.size;
  if (numRelevant === 0) return { hit: 0, ndcg: 0, recall: 0, precision: 0, rr: 0 };
  const depth = Math.min(k, ranked.length);
  let hits = 0;
  let dcg = 0;
  let rr = 0;
  for (let p = 0; p < depth; p++) {
    if (!contains(relevant, ranked[p]!)) continue;
    if (hits === 0) rr = 1 / (p + 1);
    hits++;
    dcg += discount(p);
  }
  let idealDcg = 0;
  for (let p = 0; p < Math.min(k, numRelevant); p++) idealDcg += discount(p);
  return { hit: hits > 0 ? 1 : 0, ndcg: dcg / idealDcg, recall: hits / numRelevant, precision: hits / k, rr };
}

/**
 * Running means of named per-user metrics, overall and per named segment (e.g. "cold users").
 * Every `add` counts as one user; a metric missing from some adds is averaged over the adds that had it.
 */
export class MetricAccumulator {
  private readonly overall = new Sums();
  private readonly bySegment = new Map<string, Sums>();

  /** Adds one user's metrics, also to `segment` when given. */
  add(values: Readonly<Record<string, number>>, segment?: string): void {
    this.overall.add(values);
    if (segment === undefined) return;
    let sums = this.bySegment.get(segment);
    if (!sums) this.bySegment.set(segment, (sums = new Sums()));
    sums.add(values);
  }

  /** Number of users added. */
  get count(): number {
    return this.overall.count;
  }

  /** The mean of every metric over all users added. */
  result(): Record<string, number> {
    return this.overall.means();
  }

  /** The means per segment, segments in the order they first appeared. */
  segments(): Record<string, Record<string, number>> {
    const out: Record<string, Record<string, number>> = {};
    for (const [name, sums] of this.bySegment) out[name] = sums.means();
    return out;
  }
}

class Sums {
  count = 0;
  private readonly totals = new Map<string, { sum: number; n: number }>();

  add(values: Readonly<Record<string, number>>): void {
    this.count++;
    for (const [name, value] of Object.entries(values)) {
      const entry = this.totals.get(name);
      if (entry) {
        entry.sum += value;
        entry.n++;
      } else this.totals.set(name, { sum: value, n: 1 });
    }
  }

  means(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [name, { sum, n }] of this.totals) out[name] = sum / n;
    return out;
  }
}

/** Three-way comparison that stays consistent for ±Infinity (a plain difference gives NaN for equal infinities). */
function compare(x: number, y: number): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

/**
 * Ranks 1..n of `values` in ascending order, tied values sharing their average rank (scipy's
 * `rankdata(method="average")`).
 */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Int32Array.from({ length: n }, (_, i) => i).sort((a, b) => compare(values[a]!, values[b]!));
  const ranks = new Float64Array(n);
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[order[end]!] === values[order[start]!]) end++;
    const rank = (start + 1 + end) / 2; // mean of ranks start+1 .. end
    for (let p = start; p < end; p++) ranks[order[p]!] = rank;
    start = end;
  }
  return ranks;
}

/**
 * Area under the ROC curve: the probability that a random positive scores above a random negative, ties
 * counting one half (Mann–Whitney U with average ranks). NaN when all labels are of one class.
 */
export function auc(scores: ArrayLike<number>, labels: Labels): number {
  if (scores.length !== labels.length) throw new RangeError(`auc: ${scores.length} scores for ${labels.length} labels`);
  const ranks = averageRanks(scores);
  let positives = 0;
  let positiveRankSum = 0;
  for (let i = 0; i < labels.length; i++) {
    if (labels[i]! > 0.5) {
      positives++;
      positiveRankSum += ranks[i]!;
    }
  }
  const negatives = labels.length - positives;
  if (positives === 0 || negatives === 0) return NaN;
  return (positiveRankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Group AUC: the AUC within each group (usually a user), averaged with weights = the group's row count.
 * Groups whose rows are all of one class are skipped; NaN when every group is.
 */
export function gauc(scores: ArrayLike<number>, labels: Labels, groups: ArrayLike<number>): number {
  if (scores.length !== labels.length || groups.length !== labels.length) {
    throw new RangeError(`gauc: ${scores.length} scores, ${labels.length} labels, ${groups.length} groups`);
  }
  const rowsOf = new Map<number, number[]>();
  for (let r = 0; r < groups.length; r++) {
    const rows = rowsOf.get(groups[r]!);
    if (rows) rows.push(r);
    else rowsOf.set(groups[r]!, [r]);
  }
  let weighted = 0;
  let weight = 0;
  for (const rows of rowsOf.values()) {
    const value = auc(
      rows.map((r) => scores[r]!),
      rows.map((r) => labels[r]!),
    );
    if (Number.isNaN(value)) continue;
    weighted += value * rows.length;
    weight += rows.length;
  }
  return weight === 0 ? NaN : weighted / weight;
}

/**
 * Mean binary cross-entropy of predicted *probabilities* (not logits) against labels in [0, 1]; probabilities
 * are clipped to [eps, 1 - eps] so a confident mistake costs a finite -log(eps).
 */
export function logLoss(probabilities: ArrayLike<number>, labels: Labels, eps = 1e-7): number {
  if (probabilities.length !== labels.length) {
    throw new RangeError(`logLoss: ${probabilities.length} probabilities for ${labels.length} labels`);
  }
  if (labels.length === 0) return NaN;
  let total = 0;
  for (let i = 0; i < labels.length; i++) {
    const p = Math.min(1 - eps, Math.max(eps, probabilities[i]!));
    const y = labels[i]!;
    total -= y * Math.log(p) + (1 - y) * Math.log(1 - p);
  }
  return total / labels.length;
}

/**
 * Accuracy, precision, recall and F1 when rows scoring ≥ `threshold` are predicted positive. Precision is 0
 * when nothing is predicted positive, recall 0 when there are no positives, F1 0 when both are 0.
 */
export function binaryMetrics(scores: ArrayLike<number>, labels: Labels, threshold = 0.5): BinaryMetrics {
  if (scores.length !== labels.length) {
    throw new RangeError(`binaryMetrics: ${scores.length} scores for ${labels.length} labels`);
  }
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < labels.length; i++) {
    const predicted = scores[i]! >= threshold;
    const actual = labels[i]! > 0.5;
    if (predicted && actual) tp++;
    else if (predicted) fp++;
    else if (actual) fn++;
    else tn++;
  }
  const accuracy = labels.length === 0 ? 0 : (tp + tn) / labels.length;
  const precision = tp + fp === 0 ? 0 : tp / (tp + fp);
  const recall = tp + fn === 0 ? 0 : tp / (tp + fn);
  const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  return { accuracy, precision, recall, f1 };
}

/** Which items to leave out of a selection: a predicate, or a mask where a non-zero byte excludes the item. */
export type Exclusion = ((item: number) => boolean) | Uint8Array;

/**
 * The indices of the `k` highest scores, best first, without sorting the whole array (a size-k min-heap,
 * O(n log k)). Ties go to the lower index; NaN scores rank below every number; excluded items never appear.
 * Returns fewer than `k` ids when fewer items are allowed.
 */
export function topK(scores: ArrayLike<number>, k: number, exclude?: Exclusion): Int32Array {
  const capacity = Math.max(0, Math.min(k, scores.length));
  const heapScores = new Float64Array(capacity);
  const heapIds = new Int32Array(capacity);
  let size = 0;
  const mask = exclude instanceof Uint8Array ? exclude : undefined;
  const predicate = typeof exclude === "function" ? exclude : undefined;
  // The root holds the worst kept item: the lowest score, and among equal scores the highest index.
  const worse = (a: number, b: number) =>
    heapScores[a]! < heapScores[b]! || (heapScores[a] === heapScores[b] && heapIds[a]! > heapIds[b]!);
  const swap = (a: number, b: number) => {
    const s = heapScores[a]!;
    heapScores[a] = heapScores[b]!;
    heapScores[b] = s;
    const id = heapIds[a]!;
    heapIds[a] = heapIds[b]!;
    heapIds[b] = id;
  };
  const siftDown = (from: number) => {
    let at = from;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) return;
      const right = left + 1;
      const child = right < size && worse(right, left) ? right : left;
      if (!worse(child, at)) return;
      swap(child, at);
      at = child;
    }
  };
  if (capacity > 0) {
    for (let i = 0; i < scores.length; i++) {
      if (mask ? mask[i] : predicate?.(i)) continue;
      const raw = scores[i]!;
      const score = raw === raw ? raw : -Infinity;
      if (size < capacity) {
        heapScores[size] = score;
        heapIds[size] = i;
        let at = size++;
        while (at > 0) {
          const parent = (at - 1) >> 1;
          if (!worse(at, parent)) break;
          swap(at, parent);
          at = parent;
        }
      } else if (score > heapScores[0]!) {
        // Items arrive by ascending index, so an equal score never beats the root.
        heapScores[0] = score;
        heapIds[0] = i;
        siftDown(0);
      }
    }
  }
  // Pop the worst repeatedly, filling the output from the back.
  const out = new Int32Array(size);
  while (size > 0) {
    out[size - 1] = heapIds[0]!;
    swap(0, --size);
    siftDown(0);
  }
  return out;
}

/** |topK(a) ∩ topK(b)| / k: how many of one scorer's top K the other also puts in its top K. */
export function topKOverlap(a: ArrayLike<number>, b: ArrayLike<number>, k: number, exclude?: Exclusion): number {
  if (a.length !== b.length) throw new RangeError(`topKOverlap: score vectors of ${a.length} and ${b.length}`);
  const left = topK(a, k, exclude);
  if (left.length === 0) return 0;
  const right = new Set(topK(b, k, exclude));
  let common = 0;
  for (const item of left) if (right.has(item)) common++;
  return common / left.length;
}

/** Spearman's rank correlation (Pearson correlation of average ranks); NaN when either side is constant. */
export function spearman(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) throw new RangeError(`spearman: vectors of ${a.length} and ${b.length}`);
  return pearson(averageRanks(a), averageRanks(b));
}

/** Pearson's correlation coefficient; NaN when either side is constant. */
export function pearson(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  let meanA = 0;
  let meanB = 0;
  for (let i = 0; i < n; i++) {
    meanA += a[i]!;
    meanB += b[i]!;
  }
  meanA /= n;
  meanB /= n;
  let cov = 0;
  let varA = 0;
  let varB = 0;
  for (let i = 0; i < n; i++) {
    const da = a[i]! - meanA;
    const db = b[i]! - meanB;
    cov += da * db;
    varA += da * da;
    varB += db * db;
  }
  return varA === 0 || varB === 0 ? NaN : cov / Math.sqrt(varA * varB);
}

/**
 * Kendall's tau-b (ties in either vector handled as scipy's `kendalltau`), by Knight's O(n log n) algorithm:
 * sort by (a, b), then count the swaps a merge sort by b needs (discordant pairs). NaN when either side is
 * constant.
 */
export function kendallTau(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const n = a.length;
  if (b.length !== n) throw new RangeError(`kendallTau: vectors of ${n} and ${b.length}`);
  const order = Int32Array.from({ length: n }, (_, i) => i).sort(
    (x, y) => compare(a[x]!, a[y]!) || compare(b[x]!, b[y]!),
  );
  const pairs = (t: number) => (t * (t - 1)) / 2;
  let tiedA = 0;
  let tiedBoth = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && a[order[end]!] === a[order[start]!]) end++;
    tiedA += pairs(end - start);
    // Within a run of equal a, equal b values are adjacent because of the secondary key.
    for (let s = start; s < end;) {
      let e = s + 1;
      while (e < end && b[order[e]!] === b[order[s]!]) e++;
      tiedBoth += pairs(e - s);
      s = e;
    }
    start = end;
  }
  const values = Float64Array.from(order, (i) => b[i]!);
  const discordant = mergeSortCountingSwaps(values);
  let tiedB = 0;
  for (let start = 0; start < n;) {
    let end = start + 1;
    while (end < n && values[end] === values[start]) end++;
    tiedB += pairs(end - start);
    start = end;
  }
  const total = pairs(n);
  const denominator = Math.sqrt((total - tiedA) * (total - tiedB));
  if (denominator === 0) return NaN;
  return (total - tiedA - tiedB + tiedBoth - 2 * discordant) / denominator;
}

/** Sorts `values` ascending in place and returns the number of inversions (pairs i < j with v[i] > v[j]). */
function mergeSortCountingSwaps(values: Float64Array): number {
  const n = values.length;
  let source: Float64Array = values;
  let target: Float64Array = new Float64Array(n);
  let swaps = 0;
  for (let width = 1; width < n; width *= 2) {
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      let out = lo;
      while (i < mid && j < hi) {
        if (source[j]! < source[i]!) {
          swaps += mid - i;
          target[out++] = source[j++]!;
        } else target[out++] = source[i++]!;
      }
      while (i < mid) target[out++] = source[i++]!;
      while (j < hi) target[out++] = source[j++]!;
    }
    [source, target] = [target, source];
  }
  if (source !== values) values.set(source);
  return swaps;
}
