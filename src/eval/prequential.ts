/**
 * Prequential evaluation of a stream (predict, then learn): every event, in time order, is first ranked by
 * the learner as it stands — the event's item among sampled items the user has not interacted with — and
 * only then handed to it to learn from, in batches. Metrics are reported per window of events, so a model
 * that keeps learning can be told apart from one trained once as tastes drift.
 */
import { DataRng } from "../data/rng.js";
import { rankMetrics } from "./metrics.js";
import { drawExcluding, rankOfFirst } from "./protocol.js";

/** One interaction of the stream. */
export interface StreamEvent {
  user: number;
  item: number;
  /** Milliseconds since the epoch; events arrive in this order. */
  timestamp: number;
}

/** What is evaluated: scores for a user's candidates now, and learning from events once they were scored. */
export interface StreamLearner {
  /** Scores of `items` for `user`, whose recent items (oldest first) are `history`. */
  score(user: number, history: Int32Array, items: Int32Array): Float32Array;
  /** Learn from events already scored (in stream order). */
  learn(events: readonly StreamEvent[]): void | Promise<void>;
}

export interface PrequentialOptions {
  numItems: number;
  /** Sampled unseen items ranked against each event's item (default 99). */
  negatives?: number;
  /** Events per reported window (default 1 000). */
  window?: number;
  /** Events handed to `learn` at a time (default 256). */
  batch?: number;
  /** Recent items per user passed to `score` (default 50). */
  historyLength?: number;
  ks?: readonly number[];
  seed?: number;
}

/** Metrics of one window of the stream. */
export interface WindowMetrics {
  /** Index of the window's first event in the stream. */
  start: number;
  events: number;
  /** Event time of the window's first and last events. */
  from: number;
  to: number;
  metrics: Record<string, number>;
}

export interface PrequentialResult {
  windows: WindowMetrics[];
  /** Over the whole stream. */
  overall: Record<string, number>;
}

/** Run the stream through `learner`, predicting each event before learning from it. */
export async function prequential(
  stream: readonly StreamEvent[],
  learner: StreamLearner,
  options: PrequentialOptions,
): Promise<PrequentialResult> {
  const negatives = options.negatives ?? 99;
  const windowSize = options.window ?? 1000;
  const batchSize = options.batch ?? 256;
  const historyLength = options.historyLength ?? 50;
  const ks = options.ks ?? [10];
  const rng = new DataRng(options.seed ?? 0);
  for (const [name, value] of [
    ["window", windowSize],
    ["batch", batchSize],
  ] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`prequential: ${name} must be a positive integer`);
  }
  const seen = new Map<number, Set<number>>();
  const recent = new Map<number, number[]>();
  const ranks = new Int32Array(stream.length);
  const windows: WindowMetrics[] = [];
  let pending: StreamEvent[] = [];
  let previousTime = -Infinity;
  for (let e = 0; e < stream.length; e++) {
    const event = stream[e]!;
    if (event.timestamp < previousTime) {
      throw new RangeError(
        `prequential: event ${e} is older than the one before it (the stream must be in time order)`,
      );
    }
    previousTime = event.timestamp;
    const userSeen = seen.get(event.user) ?? new Set<number>();
    const excluded = new Set(userSeen);
    excluded.add(event.item);
    const drawn = drawExcluding(excluded, options.numItems, negatives, rng);
    const candidates = new Int32Array(1 + drawn.length);
    candidates[0] = event.item;
    candidates.set(drawn, 1);
    ranks[e] = rankOfFirst(learner.score(event.user, Int32Array.from(recent.get(event.user) ?? []), candidates));

    userSeen.add(event.item);
    seen.set(event.user, userSeen);
    const items = recent.get(event.user) ?? [];
    items.push(event.item);
    if (items.length > historyLength) items.shift();
    recent.set(event.user, items);
    pending.push(event);
    if (pending.length === batchSize) {
      await learner.learn(pending);
      pending = [];
    }
    if ((e + 1) % windowSize === 0 || e === stream.length - 1) {
      const start = windows.length * windowSize;
      windows.push({
        start,
        events: e + 1 - start,
        from: stream[start]!.timestamp,
        to: event.timestamp,
        metrics: rankMetrics(ranks.subarray(start, e + 1), ks),
      });
    }
  }
  if (pending.length) await learner.learn(pending);
  return { windows, overall: rankMetrics(ranks, ks) };
}
