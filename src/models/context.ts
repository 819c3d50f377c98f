/**
 * What a model may know besides ids: side features and users' chronological histories, as plain typed
 * arrays (structured-cloneable, so training workers receive them with the model's config).
 */
import type { UserHistories } from "../data/history.js";
import type { FeatureTable } from "../data/types.js";

/** Side features of users or items, model-facing: vocabulary sizes and ids per row (0 = unknown). */
export interface FeatureInputs {
  categorical: { name: string; vocabSize: number; ids: Int32Array }[];
  multi: { name: string; vocabSize: number; offsets: Int32Array; ids: Int32Array }[];
  numeric: { name: string; values: Float32Array }[];
}

/** Items each user interacted with, oldest first: user u spans items[offsets[u] .. offsets[u+1]). */
export interface HistoryInputs {
  offsets: Int32Array;
  items: Int32Array;
}

export interface ModelContext {
  numUsers: number;
  numItems: number;
  userFeatures?: FeatureInputs;
  itemFeatures?: FeatureInputs;
  /** Training histories; history-aware models read a user's recent items from here. */
  histories?: HistoryInputs;
}

/**
 * Users a model has never seen are scored with this index: every model with a user-id embedding
 * allocates numUsers + 1 rows, the last one shared by all unknown users (cold start).
 */
export function unknownUser(context: ModelContext): number {
  return context.numUsers;
}

/** The model-facing view of a feature table. */
export function featureInputs(table: FeatureTable): FeatureInputs {
  return {
    categorical: Object.entries(table.categorical).map(([name, c]) => ({ name, vocabSize: c.vocab.size, ids: c.ids })),
    multi: Object.entries(table.multi).map(([name, m]) => ({
      name,
      vocabSize: m.vocab.size,
      offsets: m.offsets,
      ids: m.ids,
    })),
    numeric: Object.entries(table.numeric).map(([name, n]) => ({ name, values: n.values })),
  };
}

/**
 * The context with each user's history cut to its last `length` items: all a model that reads that many
 * recent items needs to score (history positions of training, `historyEnd`, do not carry over).
 */
export function recentContext(context: ModelContext, length: number): ModelContext {
  const histories = context.histories;
  if (!histories) return context;
  const users = histories.offsets.length - 1;
  const offsets = new Int32Array(users + 1);
  for (let u = 0; u < users; u++) {
    offsets[u + 1] = offsets[u]! + Math.min(length, histories.offsets[u + 1]! - histories.offsets[u]!);
  }
  const items = new Int32Array(offsets[users]!);
  for (let u = 0; u < users; u++) {
    const kept = offsets[u + 1]! - offsets[u]!;
    const end = histories.offsets[u + 1]!;
    items.set(histories.items.subarray(end - kept, end), offsets[u]!);
  }
  return { ...context, histories: { offsets, items } };
}

/** The model-facing view of user histories. */
export function historyInputs(histories: UserHistories): HistoryInputs {
  return { offsets: histories.offsets, items: histories.items };
}

/** Each item's training interactions: how often it occurs in the training histories. */
export function historyPopularity(histories: HistoryInputs, numItems: number): Int32Array {
  const counts = new Int32Array(numItems);
  for (const item of histories.items) if (item >= 0 && item < numItems) counts[item]!++;
  return counts;
}

/** Variable-length lists of recent items, one bag per scored pair (EmbeddingBag layout). */
export interface HistoryBag {
  ids: Int32Array;
  offsets: Int32Array;
}

/**
 * The last `maxLength` history items of each pair's user, ending (exclusive) at `ends[k]`, a position in
 * `histories.items` (default: the user's whole history). Unknown users (index numUsers) get empty bags.
 */
export function historyBag(
  histories: HistoryInputs,
  users: Int32Array,
  maxLength: number,
  ends?: Int32Array,
): HistoryBag {
  const numUsers = histories.offsets.length - 1;
  const offsets = new Int32Array(users.length);
  let total = 0;
  const spans = new Int32Array(users.length * 2);
  for (let k = 0; k < users.length; k++) {
    const u = users[k]!;
    if (u >= numUsers) continue;
    const start = histories.offsets[u]!;
    const end = ends ? ends[k]! : histories.offsets[u + 1]!;
    const from = Math.max(start, end - maxLength);
    spans[2 * k] = from;
    spans[2 * k + 1] = end;
    total += end - from;
  }
  const ids = new Int32Array(total);
  let at = 0;
  for (let k = 0; k < users.length; k++) {
    offsets[k] = at;
    const from = spans[2 * k]!;
    const end = spans[2 * k + 1]!;
    ids.set(histories.items.subarray(from, end), at);
    at += end - from;
  }
  return { ids, offsets };
}

/** Each bag cut to its last `max` ids (the most recent items); the bag itself when none is longer. */
export function lastItems(bag: HistoryBag, max: number): HistoryBag {
  const n = bag.offsets.length;
  const end = (b: number): number => (b + 1 < n ? bag.offsets[b + 1]! : bag.ids.length);
  let total = 0;
  for (let b = 0; b < n; b++) total += Math.min(max, end(b) - bag.offsets[b]!);
  if (total === bag.ids.length) return bag;
  const ids = new Int32Array(total);
  const offsets = new Int32Array(n);
  let at = 0;
  for (let b = 0; b < n; b++) {
    const e = end(b);
    const s = Math.max(bag.offsets[b]!, e - max);
    offsets[b] = at;
    ids.set(bag.ids.subarray(s, e), at);
    at += e - s;
  }
  return { ids, offsets };
}

/**
 * The recent items each pair's user reads: an explicit `history` (one bag per pair; its last `max` ids), else
 * the user's last `max` items before `ends` in the context's histories, else (no histories) empty bags.
 */
export function recentItems(
  context: ModelContext,
  users: Int32Array,
  max: number,
  history?: HistoryBag,
  ends?: Int32Array,
): HistoryBag {
  if (history) return lastItems(history, max);
  if (!context.histories) return { ids: new Int32Array(0), offsets: new Int32Array(users.length) };
  return historyBag(context.histories, users, max, ends);
}
