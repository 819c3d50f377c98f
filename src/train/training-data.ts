/**
 * The samples a training pool learns from: one (user, positive, negative) triple per training row, in
 * shared memory so every training worker reads the same arrays. Samples are laid out like the users'
 * chronological histories (CSR), so a sample's index is also the position of its positive item in the
 * histories: history-aware models are shown only what the user did before it (`historyEnd`). When the data
 * has task labels, each sample also carries its positive's conversion label, which the extra heads of
 * multi-task models learn.
 */
import { shareArray } from "../engine/parallel.js";
import type { UserHistories } from "../data/history.js";
import { conversionLabels } from "../data/labels.js";
import type { DataRng } from "../data/rng.js";
import type { NegativeSampler, UserItemIndex } from "../data/sampling.js";
import type { Interactions } from "../data/types.js";
import type { ModelContext } from "../models/context.js";

/** Shared training samples: sample k is (users[k], positives[k], negatives[k]) seen with history up to historyEnd[k]. */
export interface TrainingData {
  users: Int32Array;
  positives: Int32Array;
  /** Exclusive end of the sample's visible history in context.histories: its own CSR position. */
  historyEnd: Int32Array;
  /** One negative per sample, redrawn before every epoch (see redrawNegatives). */
  negatives: Int32Array;
  /** 1 when the sample's (user, positive) pair converted (see data/labels.ts); absent when the data has no labels. */
  conversions?: Uint8Array;
}

/** Number of samples in `data`. */
export function sampleCount(data: TrainingData): number {
  return data.users.length;
}

/**
 * One sample per training row, ordered like `histories` (built from `train`, the same histories as
 * `context.histories`): sample k is the k-th entry of the CSR, its user the row's user, its positive the
 * row's item and its `historyEnd` k, so only strictly earlier interactions are visible. Negatives start
 * at 0; draw them with {@link redrawNegatives} before training. With `converted` (conversionIndex of the
 * whole log), every sample gets its pair's conversion label.
 */
export function buildTrainingData(
  train: Interactions,
  context: ModelContext,
  histories: UserHistories,
  converted?: UserItemIndex | null,
): TrainingData {
  const { offsets, items } = histories;
  const total = items.length;
  if (total !== train.length) {
    throw new RangeError(`buildTrainingData: the histories hold ${total} rows but train has ${train.length}`);
  }
  if (histories.numUsers > context.numUsers) {
    throw new RangeError(
      `buildTrainingData: the histories cover ${histories.numUsers} users but the context only ${context.numUsers}`,
    );
  }
  if (context.histories && context.histories.items.length !== total) {
    throw new RangeError(
      `buildTrainingData: context.histories holds ${context.histories.items.length} rows, not these histories' ${total}`,
    );
  }
  const users = new Int32Array(total);
  const positives = new Int32Array(total);
  const historyEnd = new Int32Array(total);
  for (let u = 0; u < histories.numUsers; u++) {
    for (let k = offsets[u]!; k < offsets[u + 1]!; k++) {
      users[k] = u;
      const item = items[k]!;
      if (!(item >= 0 && item < context.numItems)) {
        throw new RangeError(`buildTrainingData: item ${item} outside the context's ${context.numItems} items`);
      }
      positives[k] = item;
      historyEnd[k] = k;
    }
  }
  return {
    users: shareArray(users),
    positives: shareArray(positives),
    historyEnd: shareArray(historyEnd),
    negatives: shareArray(new Int32Array(total)),
    ...(converted ? { conversions: shareArray(conversionLabels(users, positives, converted)) } : {}),
  };
}

/**
 * Draw a fresh negative for every sample, in place: an item the sample's user has not seen (according to
 * `sampler.seen`). With `rng`, draws are uniform over the catalogue from that generator (reproducible from
 * the caller's seed whatever the sampler was used for before); without it, the sampler draws from its own
 * distribution and generator (e.g. popularity-based negatives).
 */
export function redrawNegatives(data: TrainingData, sampler: NegativeSampler, rng?: DataRng): void {
  const { users, negatives } = data;
  if (!rng) {
    sampler.sampleBatch(users, negatives);
    return;
  }
  const { seen, numItems } = sampler;
  const maxTries = 64;
  for (let k = 0; k < users.length; k++) {
    const user = users[k]!;
    let item = -1;
    for (let attempt = 0; attempt < maxTries; attempt++) {
      const candidate = rng.int(numItems);
      if (!seen.has(user, candidate)) {
        item = candidate;
        break;
      }
    }
    negatives[k] = item >= 0 ? item : unseenAt(user, rng, sampler);
  }
}

/** A uniform draw among `user`'s unseen items, for users who have seen most of the catalogue. */
function unseenAt(user: number, rng: DataRng, sampler: NegativeSampler): number {
  const { seen, numItems } = sampler;
  const unseen = numItems - seen.count(user);
  if (unseen <= 0) {
    throw new Error(`redrawNegatives: user ${user} has seen all ${numItems} items, no negative to draw`);
  }
  let target = rng.int(unseen);
  for (let item = 0; item < numItems; item++) {
    if (seen.has(user, item)) continue;
    if (target-- === 0) return item;
  }
  throw new Error(`redrawNegatives: the seen-item index of user ${user} is inconsistent`);
}
