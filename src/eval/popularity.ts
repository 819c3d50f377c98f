/**
 * The popularity ranker: the reference every model is measured against. It ranks every user's items by their
 * training popularity (ties to the lower item id, as the protocols' top-k does); the protocols mask each user's
 * seen items for it as they do for models, so each user gets the most popular items they have not seen.
 */
import type { Scorer } from "../models/recommender.js";

/** A Scorer whose score of an item is its training popularity, the same for every user. */
export class PopularityRanker implements Scorer {
  private readonly scores: Float32Array;

  /** `itemPopularity[i]`: item i's training interactions (countOccurrences of the train items). */
  constructor(itemPopularity: ArrayLike<number>) {
    this.scores = Float32Array.from(itemPopularity);
  }

  scoreAll(): Float32Array {
    return this.scores.slice();
  }

  scoreCandidates(_query: unknown, items: Int32Array): Float32Array {
    return Float32Array.from(items, (item) => this.scores[item] ?? 0);
  }
}
