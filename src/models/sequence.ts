/**
 * The sequence capability: dot-product models whose user is the sequence of their recent items, encoded
 * causally so that one forward pass gives a state at every position (SASRec). Training asks every position
 * to predict the next item (train/sequence.ts) instead of scoring one (user, item) pair at a time.
 */
import type { Tensor } from "../engine/tensor.js";
import type { DotProductModel } from "./dot-product.js";
import type { HistoryInputs } from "./context.js";
import type { Recommender } from "./recommender.js";

export interface SequenceModel extends DotProductModel {
  readonly sequential: true;
  /** Items a sequence holds: the user's most recent, left-padded. */
  readonly maxLength: number;
  /**
   * States of `batch` sequences of one length ≤ maxLength (row-major item ids, −1 for padding, real items
   * last; a shorter window is a full one with its leading padding cut) at each sequence's last `queries`
   * positions (default all): [batch · queries, dim]; state t has seen items ≤ t only.
   */
  sequenceStates(items: Int32Array, batch: number, queries?: number): Tensor;
}

export function isSequenceModel(model: Recommender): model is SequenceModel {
  return (model as { sequential?: unknown }).sequential === true;
}

/** A batch of training windows: inputs and next-item targets, both [batch · length], −1 where padded. */
export interface SequenceWindows {
  inputs: Int32Array;
  targets: Int32Array;
}

/**
 * Each user's training window ending at history position `ends[k]` (exclusive; the window's last target is
 * the item just before it): targets are the last `length` items of the user's history before the end except
 * the first item (it has nothing before it), inputs the item before each target. Left-padded with −1.
 */
export function sequenceWindows(
  histories: HistoryInputs,
  users: Int32Array,
  ends: Int32Array,
  length: number,
): SequenceWindows {
  const n = users.length;
  const inputs = new Int32Array(n * length).fill(-1);
  const targets = new Int32Array(n * length).fill(-1);
  for (let k = 0; k < n; k++) {
    const start = histories.offsets[users[k]!]!;
    const end = ends[k]!;
    const first = Math.max(start + 1, end - length); // first target
    const count = end - first;
    if (count <= 0) continue;
    const at = k * length + length - count;
    targets.set(histories.items.subarray(first, end), at);
    inputs.set(histories.items.subarray(first - 1, end - 1), at);
  }
  return { inputs, targets };
}
