/**
 * Interaction logs as live streams: every row as a LiveEvent (external ids, milliseconds) in time order,
 * and a dataset cut in time into what a model is first trained on and the stream that follows — with the
 * first part re-indexed to the users and items it contains, so the stream brings ids the model never saw,
 * as live traffic does.
 */
import { IdMap } from "../data/idmap.js";
import type { Dataset, FeatureTable, Interactions } from "../data/types.js";
import type { StreamEvent, StreamLearner } from "../eval/prequential.js";
import type { LiveEvent } from "./model.js";

/** The rows of `interactions` in time order (stable: equal times keep file order). */
export function timeOrder(interactions: Interactions): Int32Array {
  const order = Int32Array.from({ length: interactions.length }, (_, r) => r);
  const t = interactions.timestamps;
  return order.sort((a, b) => t[a]! - t[b]! || a - b);
}

/** Every interaction of the dataset as a live event, in time order. */
export function eventsOf(dataset: Dataset): LiveEvent[] {
  const { interactions, users, items } = dataset;
  return Array.from(timeOrder(interactions), (r) => ({
    user: users.external(interactions.users[r]!),
    item: items.external(interactions.items[r]!),
    timestamp: interactions.timestamps[r]! * 1000,
  }));
}

/**
 * A live stream numbered for prequential evaluation (src/eval/prequential.ts), which works on dense ids: the
 * events by number, with the id maps that number them, and an adapter that turns a learner over external ids
 * (an OnlineModel, an OnlineLoop) into a StreamLearner.
 */
export interface NumberedStream {
  events: StreamEvent[];
  /** Distinct items of the stream (what prequential evaluation draws its sampled items from). */
  numItems: number;
  users: IdMap;
  items: IdMap;
  learner(
    score: (user: string, history: string[], items: string[]) => Float32Array,
    learn: (events: LiveEvent[]) => void | Promise<void>,
  ): StreamLearner;
}

/** Number the users and items of `stream` in order of appearance (ids of their own, not any model's). */
export function numberedStream(stream: readonly LiveEvent[]): NumberedStream {
  const users = new IdMap();
  const items = new IdMap();
  const events = stream.map((e) => ({ user: users.add(e.user), item: items.add(e.item), timestamp: e.timestamp }));
  const learner: NumberedStream["learner"] = (score, learn) => ({
    score: (user, history, candidates) =>
      score(
        users.external(user),
        Array.from(history, (i) => items.external(i)),
        Array.from(candidates, (i) => items.external(i)),
      ),
    learn: (batch) =>
      learn(batch.map((e) => ({ user: users.external(e.user), item: items.external(e.item), timestamp: e.timestamp }))),
  });
  return { events, numItems: items.size, users, items, learner };
}

/** A dataset cut in time: the first `share` of its rows as a dataset of their own, the rest as a stream. */
export interface StreamSplit {
  initial: Dataset;
  stream: LiveEvent[];
}

/** Cut `dataset` after the first `share` (0..1) of its rows in time order. */
export function splitStream(dataset: Dataset, share: number): StreamSplit {
  if (!(share > 0 && share < 1)) throw new RangeError(`splitStream: share must be in (0, 1), got ${share}`);
  const { interactions } = dataset;
  const order = timeOrder(interactions);
  const cut = Math.floor(order.length * share);
  const head = order.subarray(0, cut);
  const users = new IdMap();
  const items = new IdMap();
  const userRows: number[] = [];
  const itemRows: number[] = [];
  const n = head.length;
  const columns = {
    users: new Int32Array(n),
    items: new Int32Array(n),
    values: new Float32Array(n),
    timestamps: new Float64Array(n),
    eventTypes: new Uint8Array(n),
  };
  head.forEach((r, k) => {
    const u = interactions.users[r]!;
    const i = interactions.items[r]!;
    const before = [users.size, items.size];
    columns.users[k] = users.add(dataset.users.external(u));
    columns.items[k] = items.add(dataset.items.external(i));
    if (users.size > before[0]!) userRows.push(u);
    if (items.size > before[1]!) itemRows.push(i);
    columns.values[k] = interactions.values[r]!;
    columns.timestamps[k] = interactions.timestamps[r]!;
    columns.eventTypes[k] = interactions.eventTypes[r]!;
  });
  const initial: Dataset = {
    name: `${dataset.name}-initial`,
    interactions: { length: n, ...columns },
    users,
    items,
    ...(dataset.userFeatures ? { userFeatures: featureRows(dataset.userFeatures, userRows) } : {}),
    ...(dataset.itemFeatures ? { itemFeatures: featureRows(dataset.itemFeatures, itemRows) } : {}),
  };
  const stream = Array.from(order.subarray(cut), (r) => ({
    user: dataset.users.external(interactions.users[r]!),
    item: dataset.items.external(interactions.items[r]!),
    timestamp: interactions.timestamps[r]! * 1000,
  }));
  return { initial, stream };
}

/** The feature table's rows `rows`, in that order (vocabularies and normalisation unchanged). */
function featureRows(table: FeatureTable, rows: readonly number[]): FeatureTable {
  const categorical = Object.fromEntries(
    Object.entries(table.categorical).map(([name, c]) => [
      name,
      { vocab: c.vocab, ids: Int32Array.from(rows, (r) => c.ids[r]!) },
    ]),
  );
  const multi = Object.fromEntries(
    Object.entries(table.multi).map(([name, m]) => {
      const offsets = new Int32Array(rows.length + 1);
      rows.forEach((r, k) => (offsets[k + 1] = offsets[k]! + m.offsets[r + 1]! - m.offsets[r]!));
      const ids = new Int32Array(offsets[rows.length]!);
      rows.forEach((r, k) => ids.set(m.ids.subarray(m.offsets[r]!, m.offsets[r + 1]!), offsets[k]!));
      return [name, { vocab: m.vocab, offsets, ids }];
    }),
  );
  const numeric = Object.fromEntries(
    Object.entries(table.numeric).map(([name, c]) => [
      name,
      {
        mean: c.mean,
        std: c.std,
        values: Float32Array.from(rows, (r) => c.values[r]!),
        missing: Uint8Array.from(rows, (r) => c.missing[r]!),
      },
    ]),
  );
  return { categorical, multi, numeric };
}
