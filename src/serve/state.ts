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
 * doubling up to that) plus about 600 bytes for the entry, its id and the two arrays (measured on Node 20).
 * At most `maxUsers` users are kept (default 100 000: ≈ 120 MB at maxHistory 50): past it the least recently
 * active user's live events are forgotten, and they are answered from their base history again — new users
 * arrive for ever, and memory must not grow with them. Users without live events cost nothing.
 */
/** Users whose live events UserState keeps by default. */
export const DEFAULT_MAX_USERS = 100_000;

export class UserState {
  /** Least recently active first (Map order: a user is moved to the end by each event). */
  private readonly histories = new Map<string, History>();

  constructor(
    readonly maxHistory: number,
    private readonly userIds: UserIndex,
    private readonly baseHistory: BaseHistory,
    readonly maxUsers = DEFAULT_MAX_USERS,
  ) {
    if (!Number.isSafeInteger(maxHistory) || maxHistory < 0) {
      throw new RangeError(`UserState: maxHistory must be an integer ≥ 0 (got ${maxHistory})`);
    }
    if (!Number.isSafeInteger(maxUsers) || maxUsers < 1) {
      throw new RangeError(`UserState: maxUsers must be a positive integer (got ${maxUsers})`);
    }
  }

  /** Add events, in order, to their users' recent items. */
  apply(events: Iterable<ResolvedEvent>): void {
    for (const { user, item, timestamp } of events) {
      checkEvent(item, timestamp);
      const history = this.histories.get(user) ?? this.start(user);
      this.touch(user, history);
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

  /** Make the user the most recently active, forgetting the least recently active one past maxUsers. */
  private touch(user: string, history: History): void {
    this.histories.delete(user);
    this.histories.set(user, history);
    if (this.histories.size > this.maxUsers) this.histories.delete(this.histories.keys().next().value as string);
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
  /** The server's clock, ms since the epoch (default Date.now). */
  now?: () => number;
  /** How far past the clock an event's time may be; a later one counts as of the clock plus this (default 5 minutes). */
  maxSkewMs?: number;
  /**
   * How far an event's time may run ahead of the stream's own time — the median of the newest event times
   * of the most recently active users — before it counts as of that time plus this (default one half-life):
   * an event counts at most 2^(maxLeadMs / halfLifeMs) times as much as one at the stream's time.
   */
  maxLeadMs?: number;
  /**
   * What one user's events may weigh together, all items included, in events counted now (default 10): a
   * user's events count until their own decayed count reaches this, and again as it decays.
   */
  maxPerUser?: number;
}

/** What Popularity does with the options it is not given (besides the half-life). */
export const POPULARITY_DEFAULTS = {
  maxSkewMs: 5 * 60_000,
  maxPerUser: 10,
} as const;

/** One user's decayed count of counted events, as of their newest event time. */
interface UserWeight {
  count: number;
  time: number;
}

/**
 * How often each item was interacted with, each event's weight halving every half-life of event time
 * (event timestamps, not the clock: a replay gives the same counts). Seeded with training counts so it
 * ranks items before any live event; items past the seed are counted from their first event.
 *
 * No event or user can take it over: an event's time counts at most as the clock plus a small skew and at
 * most a lead past the stream's own time (so an absurd or future timestamp, stored and replayed after a
 * restart, counts as about one event now), and one user's events weigh at most `maxPerUser` events however
 * many they send. Users are tracked for the cap while among the 100 000 most recently active.
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
  /** The newest (bounded) event time seen (or the seed time): what score() decays to. */
  private latest: number | undefined;
  private readonly now: () => number;
  private readonly maxSkewMs: number;
  private readonly maxLeadMs: number;
  private readonly maxPerUser: number;
  /** Users' decayed counts, least recently active first (a Map keeps insertion order; a touch re-inserts). */
  private readonly users = new Map<string, UserWeight>();
  /** The newest event times of the most recently active users (the stream's time is their median). */
  private readonly recent = new Map<string, number>();
  /** The bound on event times as last computed; recomputed when an event passes it. */
  private bound = -Infinity;

  constructor(seed: ArrayLike<number>, options: PopularityOptions) {
    const { halfLifeMs, seedTime } = options;
    if (!(halfLifeMs > 0 && Number.isFinite(halfLifeMs))) {
      throw new RangeError(`Popularity: halfLifeMs must be a finite number > 0 (got ${halfLifeMs})`);
    }
    if (seedTime !== undefined && !Number.isFinite(seedTime)) {
      throw new RangeError(`Popularity: seedTime must be a finite number (got ${seedTime})`);
    }
    this.maxSkewMs = options.maxSkewMs ?? POPULARITY_DEFAULTS.maxSkewMs;
    this.maxLeadMs = options.maxLeadMs ?? halfLifeMs;
    this.maxPerUser = options.maxPerUser ?? POPULARITY_DEFAULTS.maxPerUser;
    for (const [name, value] of [
      ["maxSkewMs", this.maxSkewMs],
      ["maxLeadMs", this.maxLeadMs],
    ] as const) {
      if (!(value >= 0 && Number.isFinite(value))) {
        throw new RangeError(`Popularity: ${name} must be a finite number ≥ 0 (got ${value})`);
      }
    }
    if (!(this.maxPerUser > 0)) {
      throw new RangeError(`Popularity: maxPerUser must be a number > 0 (got ${this.maxPerUser})`);
    }
    this.halfLifeMs = halfLifeMs;
    this.now = options.now ?? Date.now;
    this.scores = Float64Array.from(seed);
    this.size = seed.length;
    this.reference = seedTime;
    this.latest = seedTime;
  }

  /** Count events. */
  add(events: Iterable<{ user: string; item: number; timestamp: number }>): void {
    for (const { user, item, timestamp } of events) {
      checkEvent(item, timestamp);
      const time = this.plausible(user, timestamp);
      const weight = this.userWeight(user, time);
      this.reference ??= time;
      this.latest = Math.max(this.latest ?? time, time);
      if (weight === 0) continue;
      let exponent = (time - this.reference) / this.halfLifeMs;
      if (exponent > MAX_EXPONENT) {
        this.rescale(time);
        exponent = 0;
      }
      if (item >= this.size) this.growTo(item + 1);
      this.scores[item]! += weight * 2 ** exponent;
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

  /** The event's time, no later than the clock plus skew, nor than the stream's time plus lead. */
  private plausible(user: string, timestamp: number): number {
    let time = Math.min(timestamp, this.now() + this.maxSkewMs);
    if (time > this.bound) {
      // The median with this event's time in it: a single outlier, or one user's many, cannot move it.
      const times = [time];
      for (const [u, t] of this.recent) if (u !== user) times.push(t);
      times.sort((a, b) => a - b);
      this.bound = times[(times.length - 1) >> 1]! + this.maxLeadMs;
      time = Math.min(time, this.bound);
    }
    this.recent.delete(user);
    this.recent.set(user, Math.max(time, this.recent.get(user) ?? -Infinity));
    if (this.recent.size > STREAM_USERS) this.recent.delete(this.recent.keys().next().value as string);
    return time;
  }

  /** The weight the user's event at `time` counts with: what is left of their cap. */
  private userWeight(user: string, time: number): number {
    const previous = this.users.get(user);
    let count = 0;
    let at = time;
    if (previous) {
      this.users.delete(user);
      // An event older than the user's newest counts as of that time: their count does not grow back.
      at = Math.max(time, previous.time);
      count = previous.count * 2 ** ((previous.time - at) / this.halfLifeMs);
    }
    const room = this.maxPerUser - count;
    // Weights are as of the event's own time; the count is as of the user's newest.
    const weight = Math.max(0, Math.min(1, room * 2 ** ((at - time) / this.halfLifeMs)));
    this.users.set(user, { count: count + weight * 2 ** ((time - at) / this.halfLifeMs), time: at });
    if (this.users.size > TRACKED_USERS) this.users.delete(this.users.keys().next().value as string);
    return weight;
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

/** Recently active users whose newest event times make the stream's time. */
const STREAM_USERS = 31;
/** Users whose counts are kept for the per-user cap (about 100 bytes each). */
const TRACKED_USERS = 100_000;

/** Weights stay below 2^64, far from overflowing: one rescale every 64 half-lives of event time. */
const MAX_EXPONENT = 64;

function checkEvent(item: number, timestamp: number): void {
  if (!Number.isSafeInteger(item) || item < 0) throw new RangeError(`item must be an index ≥ 0 (got ${item})`);
  if (!Number.isFinite(timestamp)) throw new RangeError(`timestamp must be a finite number (got ${timestamp})`);
}
