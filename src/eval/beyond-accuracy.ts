/**
 * Beyond-accuracy metrics of the top-k lists a ranking gives the test users (evaluateFullRanking's `lists`):
 * how much of the catalogue they reach (coverage), how evenly they spread exposure (Gini), how much of it goes
 * to the long tail, and how unexpected the items are (novelty) — the figures that show a model serving the same
 * few items to everyone, which accuracy alone does not. Popularity is counted in the training interactions;
 * head and long tail are split once, by {@link headItems}.
 *
 * Every function reads the first k entries of each list (fewer when a list is shorter, as when k exceeds the
 * items left after masking) and expects items in 0..numItems-1.
 */

/** How many times each item appears in the first `k` entries of the lists, over all `numItems` items. */
export function exposureCounts(lists: readonly Int32Array[], numItems: number, k: number): Int32Array {
  const counts = new Int32Array(numItems);
  for (const list of lists) {
    for (let p = 0; p < Math.min(k, list.length); p++) counts[list[p]!]!++;
  }
  return counts;
}

/** Catalogue coverage@k: the share of the `numItems` items in at least one list's first `k` (0 for no items). */
export function catalogueCoverage(lists: readonly Int32Array[], numItems: number, k: number): number {
  if (numItems === 0) return 0;
  let covered = 0;
  for (const count of exposureCounts(lists, numItems, k)) if (count > 0) covered++;
  return covered / numItems;
}

/**
 * The Gini index of non-negative values: 0 when all are equal, (n − 1) / n when one holds everything (→ 1 for
 * many values); 0 when they sum to 0 (nothing to share unequally). With the values sorted ascending,
 * G = Σ_j (2j − n − 1) · v_(j) / (n · Σ v), j = 1..n.
 */
export function giniIndex(values: ArrayLike<number>): number {
  const sorted = Float64Array.from(values).sort();
  const n = sorted.length;
  let total = 0;
  let weighted = 0;
  for (let j = 0; j < n; j++) {
    total += sorted[j]!;
    weighted += (2 * (j + 1) - n - 1) * sorted[j]!;
  }
  return total === 0 ? 0 : weighted / (n * total);
}

/** Gini index of exposure@k: of every catalogue item's appearances in the lists' first `k`, zeros included. */
export function exposureGini(lists: readonly Int32Array[], numItems: number, k: number): number {
  return giniIndex(exposureCounts(lists, numItems, k));
}

/**
 * Long-tail share@k: of all the recommended slots (each list's first `k` entries), the share holding a long-tail
 * item (`head[item]` 0, as {@link headItems} gives; items beyond `head` count as long tail). 0 with no slots.
 */
export function longTailShare(lists: readonly Int32Array[], head: Uint8Array, k: number): number {
  let slots = 0;
  let tail = 0;
  for (const list of lists) {
    for (let p = 0; p < Math.min(k, list.length); p++) {
      slots++;
      if (!head[list[p]!]) tail++;
    }
  }
  return slots === 0 ? 0 : tail / slots;
}

/**
 * Each item's self-information in bits, −log2 p(i), with p(i) = (n_i + 1) / (N + |I|): n_i the item's training
 * interactions (`itemPopularity[i]`), N their total, |I| the catalogue size. The add-one (Laplace) smoothing gives
 * an item never seen in training the largest finite value, log2(N + |I|), instead of infinity.
 */
export function selfInformation(itemPopularity: ArrayLike<number>): Float64Array {
  let total = 0;
  for (let i = 0; i < itemPopularity.length; i++) total += itemPopularity[i]!;
  const denominator = total + itemPopularity.length;
  return Float64Array.from(itemPopularity, (count) => -Math.log2((count + 1) / denominator));
}

/**
 * Novelty@k: the mean self-information (see {@link selfInformation}) of the items in all the recommended slots
 * (each list's first `k` entries), in bits; 0 with no slots.
 */
export function novelty(lists: readonly Int32Array[], itemPopularity: ArrayLike<number>, k: number): number {
  const bits = selfInformation(itemPopularity);
  let slots = 0;
  let sum = 0;
  for (const list of lists) {
    for (let p = 0; p < Math.min(k, list.length); p++) {
      slots++;
      sum += bits[list[p]!]!;
    }
  }
  return slots === 0 ? 0 : sum / slots;
}

/** What the beyond-accuracy metrics read beside the lists. */
export interface BeyondAccuracyOptions {
  /** Training interactions per item (countOccurrences of the train items), one entry per catalogue item. */
  itemPopularity: ArrayLike<number>;
  /** The head items (headItems of the same popularity). */
  head: Uint8Array;
  ks: readonly number[];
}

/** For every k: `Coverage@k`, `Gini@k`, `LongTailShare@k` and `Novelty@k` of the lists. */
export function beyondAccuracyMetrics(
  lists: readonly Int32Array[],
  options: BeyondAccuracyOptions,
): Record<string, number> {
  const { itemPopularity, head, ks } = options;
  const numItems = itemPopularity.length;
  const out: Record<string, number> = {};
  for (const k of ks) {
    out[`Coverage@${k}`] = catalogueCoverage(lists, numItems, k);
    out[`Gini@${k}`] = exposureGini(lists, numItems, k);
    out[`LongTailShare@${k}`] = longTailShare(lists, head, k);
    out[`Novelty@${k}`] = novelty(lists, itemPopularity, k);
  }
  return out;
}
