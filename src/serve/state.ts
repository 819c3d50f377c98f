/**
 * What live feedback changes between two model versions, kept in memory and rebuilt from the event store
 * at startup: each user's recent items (what a history-aware model reads to encode the user) and the items'
 * popularity with time decay (the fallback for users with no history at all).
 */
import { topK } from "../eval/metrics.js";

/** A feedback event whose item the caller resolved to a catalogue index. */
export interface ResolvedEvent {
  user: string;
  item: number;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/**
 * A user's recent items before any live event, oldest first: from the model's context for a user it knows
 * (`userIndex`), empty for one it does not (undefined).
 */
export type BaseHistory = (userIndex: number | undefined, user: string) => Int32Array;

/** Finds a user's index in the model (an IdMap does). */
export interface UserIndex {
  get(user: string): number | undefined;
}

/** One user's recent items, oldest first, with each item's event time (-Infinity: from the base history). */
interface History {
  items: Int32Array;
  times: Float64Array;
  length: number;
  /** Live events applied to this user. */
  events: number;
}

/**
 * Every user's recent items, ordered by event time (base history first; equal times keep arrival order),
 * at most `maxHistory` of them, the newest kept. A user is taken from the base history when their first
 * live event arrives.
 *
 * Memory: a user with live events holds at most 12·maxHistory bytes of items and times (the arrays grow by
 * doubling up to that) plus about 500 bytes for the entry, its id and the two arrays (measured on Node 20):
 * at most users × (12·maxHistory + 500) bytes, e.g. 1 million users with live events at maxHistory 50 ≈ 1.1 GB.
 * Users without live events cost nothing: their recent items are the base history's.
 */
export class UserState {
  private readonly histories = new Map<string, History>();

  constructor(
    readonly maxHistory: number,
    private readonly userIds: UserIndex,
    private readonly baseHistory: BaseHistory,
  ) {
    if (!Number.isSafeInteger(maxHistory) || maxHistory < 0) {
      throw new RangeError(`UserState: maxHistory must be an integer ≥ 0 (got ${maxHistory})`);
    }
  }

  /** Add events, in order, to their users' recent items. */
  apply(events: Iterable<ResolvedEvent>): void {
    for (const { user, item, timestamp } of events) {
      checkEvent(item, timestamp);
      const history = this.histories.get(user) ?? this.start(user);
      history.events++;
      this.insert(history, item, timestamp);
    }
  }

  /** Forget every live event and apply `events` (the store's, at startup): the state they lead to. */
  rebuild(events: Iterable<ResolvedEvent>): void {
    this.histories.clear();
    this.apply(events);
  }

  /** A copy of the user's recent items, oldest first. */
  recent(user: string): Int32Array {
    const history = this.histories.get(user);
    if (history) return history.items.slice(0, history.length);
    return this.base(user).slice();
  }

  /** Live events applied to the user. */
  eventsOf(user: string): number {
    return this.histories.get(user)?.events ?? 0;
  }

  /** Users with live events. */
  users(): number {
    return this.histories.size;
  }

  private base(user: string): Int32Array {
    const items = this.baseHistory(this.userIds.get(user), user);
    return items.subarray(Math.max(0, items.length - this.maxHistory));
  }

  private start(user: string): History {
    const base = this.base(user);
    const capacity = Math.min(this.maxHistory, Math.max(8, base.length + 1));
    const history: History = {
      items: new Int32Array(capacity),
      times: new Float64Array(capacity).fill(-Infinity),
      length: base.length,
      events: 0,
    };
    history.items.set(base);
    this.histories.set(user, history);
    return history;
  }

  private insert(history: History, item: number, time: number): void {
    if (this.maxHistory === 0) return;
    if (history.length === this.maxHistory) {
      // Full: an event older than every kept item is not among the newest; otherwise the oldest makes room.
      if (time < history.times[0]!) return;
      history.items.copyWithin(0, 1, history.length);
      history.times.copyWithin(0, 1, history.length);
      history.length--;
    } else if (history.length === history.items.length) {
      grow(history, Math.min(this.maxHistory, 2 * history.items.length));
    }
    // Events mostly arrive in time order, so the search from the newest end is short.
    let at = history.length;
    while (at > 0 && history.times[at - 1]! > time) at--;
    history.items.copyWithin(at + 1, at, history.length);
    history.times.copyWithin(at + 1, at, history.length);
    history.items[at] = item;
    history.times[at] = time;
    history.length++;
  }
}

function grow(history: History, capacity: number): void {
  const items = new Int32Array(capacity);
  items.set(history.items);
  const times = new Float64Array(capacity);
  times.set(history.times);
  history.items = items;
  history.times = times;
}

export interface PopularityOptions {
  /** After this much event time an event counts half (ms). */
  halfLifeMs: number;
  /** The event time the seed counts were observed at (default: the first live event's). */
  seedTime?: number;
}

/**
 * How often each item was interacted with, each event's weight halving every half-life of event time
 * (event timestamps, not the clock: a replay gives the same counts). Seeded with training counts so it
 * ranks items before any live event; items past the seed are counted from their first event.
 */
export class Popularity {
  readonly halfLifeMs: number;
  /**
   * Decayed counts, each scaled by the same factor: an event at `reference` weighs 1, one a half-life later
   * 2. Ranking needs no common "now"; the reference moves forward before the weights get too large.
   */
  private scores: Float64Array;
  private size: number;
  private reference: number | undefined;
  /** The newest event time seen (or the seed time): what score() decays to. */
  private latest: number | undefined;

  constructor(seed: ArrayLike<number>, options: PopularityOptions) {
    const { halfLifeMs, seedTime } = options;
    if (!(halfLifeMs > 0 && Number.isFinite(halfLifeMs))) {
      throw new RangeError(`Popularity: halfLifeMs must be a finite number > 0 (got ${halfLifeMs})`);
    }
    if (seedTime !== undefined && !Number.isFinite(seedTime)) {
      throw new RangeError(`Popularity: seedTime must be a finite number (got ${seedTime})`);
    }
    this.halfLifeMs = halfLifeMs;
    this.scores = Float64Array.from(seed);
    this.size = seed.length;
    this.reference = seedTime;
    this.latest = seedTime;
  }

  /** Count events. */
  add(events: Iterable<{ item: number; timestamp: number }>): void {
    for (const { item, timestamp } of events) {
      checkEvent(item, timestamp);
      this.reference ??= timestamp;
      this.latest = Math.max(this.latest ?? timestamp, timestamp);
      let exponent = (timestamp - this.reference) / this.halfLifeMs;
      if (exponent > MAX_EXPONENT) {
        this.rescale(timestamp);
        exponent = 0;
      }
      if (item >= this.size) this.growTo(item + 1);
      this.scores[item]! += 2 ** exponent;
    }
  }

  /** The `k` most popular items, most popular first (ties: lower index), none that `exclude` marks. */
  top(k: number, exclude?: Uint8Array): Int32Array {
    return topK(this.scores.subarray(0, this.size), k, exclude);
  }

  /** The item's decayed count as of the newest event time seen: events then count 1, a half-life older ½. */
  score(item: number): number {
    const score = item < this.size ? this.scores[item]! : 0;
    if (this.reference === undefined) return score;
    return score * 2 ** ((this.reference - this.latest!) / this.halfLifeMs);
  }

  /** Move the reference to `time`: every weight shrinks by the same factor, so the ranking stays. */
  private rescale(time: number): void {
    const factor = 2 ** ((this.reference! - time) / this.halfLifeMs);
    for (let i = 0; i < this.size; i++) this.scores[i]! *= factor;
    this.reference = time;
  }

  private growTo(size: number): void {
    if (size > this.scores.length) {
      const scores = new Float64Array(Math.max(size, 2 * this.scores.length));
      scores.set(this.scores.subarray(0, this.size));
      this.scores = scores;
    }
    this.size = size;
  }
}

/** Weights stay below 2^64, far from overflowing: one rescale every 64 half-lives of event time. */
const MAX_EXPONENT = 64;

function checkEvent(item: number, timestamp: number): void {
  if (!Number.isSafeInteger(item) || item < 0) throw new RangeError(`item must be an index ≥ 0 (got ${item})`);
  if (!Number.isFinite(timestamp)) throw new RangeError(`timestamp must be a finite number (got ${timestamp})`);
}
