// Negative sampling: per-user seen-item index, uniform and popularity samplers, evaluation candidate lists.
import { DataRng } from "./rng.js";
import { groupRowsByUser } from "./shaping.js";
import type { Interactions } from "./types.js";

/** The distinct items each user has interacted with, in CSR form with items ascending per user. */
export class UserItemIndex {
  constructor(
    /** Row u spans `items[offsets[u] .. offsets[u+1])`. */
    readonly offsets: Int32Array,
    readonly items: Int32Array,
  ) {}

  get numUsers(): number {
    return this.offsets.length - 1;
  }

  /** How many distinct items `user` has seen. */
  count(user: number): number {
    return this.offsets[user + 1]! - this.offsets[user]!;
  }

  /** The items `user` has seen, ascending (a view, not a copy). */
  itemsOf(user: number): Int32Array {
    return this.items.subarray(this.offsets[user]!, this.offsets[user + 1]!);
  }

  /** Whether `user` has seen `item` (binary search). */
  has(user: number, item: number): boolean {
    let lo = this.offsets[user]!;
    let hi = this.offsets[user + 1]! - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const value = this.items[mid]!;
      if (value === item) return true;
      if (value < item) lo = mid + 1;
      else hi = mid - 1;
    }
    return false;
  }
}

/** Builds the seen-item index of a log for users 0..numUsers-1 (repeated pairs count once). */
export function buildUserItemIndex(interactions: Interactions, numUsers: number): UserItemIndex {
  const { offsets: rowOffsets, rows } = groupRowsByUser(interactions, numUsers);
  const sorted = new Int32Array(rows.length);
  for (let k = 0; k < rows.length; k++) sorted[k] = interactions.items[rows[k]!]!;
  const offsets = new Int32Array(numUsers + 1);
  let write = 0;
  for (let u = 0; u < numUsers; u++) {
    const segment = sorted.subarray(rowOffsets[u]!, rowOffsets[u + 1]!).sort();
    // Compact in place: write never overtakes the segment being read.
    for (let k = 0; k < segment.length; k++) {
      if (k > 0 && segment[k] === segment[k - 1]) continue;
      sorted[write++] = segment[k]!;
    }
    offsets[u + 1] = write;
  }
  return new UserItemIndex(offsets, sorted.slice(0, write));
}

/** How many times each item occurs in the log, for items 0..numItems-1. */
export function itemPopularity(interactions: Interactions, numItems: number): Float64Array {
  const counts = new Float64Array(numItems);
  for (const item of interactions.items) {
    if (!(item >= 0 && item < numItems)) throw new RangeError(`item index ${item} outside 0..${numItems - 1}`);
    counts[item]!++;
  }
  return counts;
}

/** Options shared by the negative samplers. */
export interface SamplerOptions {
  seed: number;
  /** Rejection-sampling attempts per draw before switching to an exact draw over unseen items (default 64). */
  maxTries?: number;
}

/** Draws items a user has not seen, following some base distribution over the catalogue. */
export abstract class NegativeSampler {
  protected readonly rng: DataRng;
  private readonly maxTries: number;

  constructor(
    readonly seen: UserItemIndex,
    readonly numItems: number,
    options: SamplerOptions,
  ) {
    this.rng = new DataRng(options.seed);
    this.maxTries = options.maxTries ?? 64;
  }

  /** An item from the base distribution, ignoring what users have seen. */
  abstract draw(): number;

  /** The (unnormalised) base probability of `item`. */
  abstract weight(item: number): number;

  /** One negative for `user`: an item with positive weight that the user has not seen. */
  sample(user: number): number {
    return this.sampleExcluding(user, undefined);
  }

  /** One negative per entry of `users`, written to `out` (allocated when not given). */
  sampleBatch(users: Int32Array, out: Int32Array = new Int32Array(users.length)): Int32Array {
    if (out.length < users.length) throw new RangeError(`sampleBatch: output holds ${out.length} < ${users.length}`);
    for (let k = 0; k < users.length; k++) out[k] = this.sample(users[k]!);
    return out;
  }

  /**
   * A negative for `user` that is also outside `excluded`: rejection sampling first, then, when the user has
   * seen most of the catalogue, an exact weighted draw over the remaining items.
   */
  sampleExcluding(user: number, excluded: ReadonlySet<number> | undefined): number {
    for (let attempt = 0; attempt < this.maxTries; attempt++) {
      const item = this.draw();
      if (!this.seen.has(user, item) && !excluded?.has(item)) return item;
    }
    return this.exactDraw(user, excluded);
  }

  private exactDraw(user: number, excluded: ReadonlySet<number> | undefined): number {
    let total = 0;
    for (let item = 0; item < this.numItems; item++) {
      if (!this.seen.has(user, item) && !excluded?.has(item)) total += this.weight(item);
    }
    if (total <= 0) {
      throw new Error(
        `negative sampling: user ${user} has no unseen item left to draw ` +
          `(seen ${this.seen.count(user)} of ${this.numItems} items, ${excluded?.size ?? 0} more excluded)`,
      );
    }
    let target = this.rng.next() * total;
    let lastAllowed = -1;
    for (let item = 0; item < this.numItems; item++) {
      if (this.seen.has(user, item) || excluded?.has(item) || this.weight(item) <= 0) continue;
      lastAllowed = item;
      target -= this.weight(item);
      if (target < 0) return item;
    }
    return lastAllowed; // rounding left a sliver of `target`
  }
}

/** Negatives drawn uniformly from the unseen items. */
export class UniformSampler extends NegativeSampler {
  constructor(seen: UserItemIndex, numItems: number, options: SamplerOptions) {
    super(seen, numItems, options);
    if (numItems <= 0) throw new RangeError("UniformSampler: the catalogue is empty");
  }

  draw(): number {
    return this.rng.int(this.numItems);
  }

  weight(): number {
    return 1;
  }
}

/** Negatives drawn ∝ popularity^alpha among the unseen items (Vose's alias method, O(1) per draw). */
export class PopularitySampler extends NegativeSampler {
  private readonly weights: Float64Array;
  private readonly aliasProbability: Float64Array;
  private readonly alias: Int32Array;

  /** `popularity[i]` is item i's count (see itemPopularity); `alpha` defaults to 1. */
  constructor(seen: UserItemIndex, popularity: ArrayLike<number>, options: SamplerOptions & { alpha?: number }) {
    super(seen, popularity.length, options);
    const alpha = options.alpha ?? 1;
    this.weights = Float64Array.from(popularity, (count) => (count > 0 ? Math.pow(count, alpha) : 0));
    const { probability, alias } = buildAliasTable(this.weights);
    this.aliasProbability = probability;
    this.alias = alias;
  }

  draw(): number {
    const column = this.rng.int(this.numItems);
    return this.rng.next() < this.aliasProbability[column]! ? column : this.alias[column]!;
  }

  weight(item: number): number {
    return this.weights[item]!;
  }
}

/** Vose's alias table for drawing index i ∝ weights[i]. */
export function buildAliasTable(weights: Float64Array): { probability: Float64Array; alias: Int32Array } {
  const n = weights.length;
  let total = 0;
  for (const w of weights) {
    if (!(w >= 0 && Number.isFinite(w))) throw new RangeError(`alias table: weights must be finite and ≥ 0`);
    total += w;
  }
  if (!(total > 0)) throw new RangeError("alias table: all weights are zero");
  const scaled = Float64Array.from(weights, (w) => (w * n) / total);
  const probability = new Float64Array(n);
  const alias = new Int32Array(n);
  const small = new Int32Array(n);
  const large = new Int32Array(n);
  let smallCount = 0;
  let largeCount = 0;
  for (let i = 0; i < n; i++) {
    if (scaled[i]! < 1) small[smallCount++] = i;
    else large[largeCount++] = i;
  }
  while (smallCount > 0 && largeCount > 0) {
    const less = small[--smallCount]!;
    const more = large[--largeCount]!;
    probability[less] = scaled[less]!;
    alias[less] = more;
    scaled[more] = scaled[more]! + scaled[less]! - 1;
    if (scaled[more]! < 1) small[smallCount++] = more;
    else large[largeCount++] = more;
  }
  // Leftovers are 1 up to rounding.
  while (largeCount > 0) probability[large[--largeCount]!] = 1;
  while (smallCount > 0) probability[small[--smallCount]!] = 1;
  return { probability, alias };
}

/**
 * `n` distinct negatives for `user` from `sampler`: unseen by the user, not in `positives` (e.g. the held-out
 * test item, which the train index does not contain). Used for sampled evaluation (99 or 499 negatives per
 * test item) and listwise distillation.
 */
export function sampleCandidates(
  user: number,
  positives: ArrayLike<number>,
  n: number,
  sampler: NegativeSampler,
): Int32Array {
  const excluded = new Set<number>(Array.from(positives));
  const out = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const item = sampler.sampleExcluding(user, excluded);
    excluded.add(item);
    out[k] = item;
  }
  return out;
}
