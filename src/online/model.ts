/**
 * A model that keeps learning from a stream of events. It wraps a trained dot-product model (an artefact's
 * model and id maps; models/dot-product.ts) in a copy whose id tables have room for ids the training data
 * never had — a fixed number of slots, recycled least-recently-seen first (IdSlots), so memory is bounded
 * however many new ids arrive.
 * A new user starts from the trained unknown-user row (what the model did for them before), a new item
 * from a zero id row (its side features alone, as serving's cold start).
 * An id the base model never saw gets a row only once it has been seen `admitAfter` times (a frequency
 * filter, counted in fixed memory): a flood of ids seen once never takes the rows of ids that recur.
 *
 * `learn` takes events in batches: each event becomes a BPR sample (the user with their recent items
 * before the event, the item, a sampled negative), mixed with as many samples replayed from a bounded
 * reservoir of past events (so the model follows new behaviour without forgetting the old), and the batch
 * is one optimiser step whose embedding updates touch only the rows the batch used. One user's flood moves
 * it little: at most `maxUserEvents` of a user's events are learned per `userWindow` events, and a user
 * holds at most `maxReplayShare` of the reservoir.
 */
import { IdMap } from "../data/idmap.js";
import { DataRng } from "../data/rng.js";
import { createOptimizer, type OptimizerSettings } from "../train/optimizer.js";
import * as ops from "../engine/ops/index.js";
import { Ids } from "../engine/ops/embedding.js";
import type { Optimizer } from "../engine/optim.js";
import { Tensor, endStep, noGrad } from "../engine/tensor.js";
import type { HistoryBag } from "../models/context.js";
import { createModel, type ModelSpec } from "../models/zoo.js";
import { specOf } from "../models/artefact.js";
import type { Recommender } from "../models/recommender.js";
import { isDotProduct, type DotProductModel } from "../models/dot-product.js";
import { IdSlots, Sightings } from "./slots.js";
import { copyGrown, gatherRows, growContext, ITEM_TABLES, USER_TABLES } from "./grow.js";

/** One interaction of a live stream, by external ids. */
export interface LiveEvent {
  user: string;
  item: string;
  /** Milliseconds since the epoch. */
  timestamp: number;
}

/** A trained model and the ids its rows stand for (what loadArtefact returns). */
export interface BaseModel {
  model: Recommender;
  users: IdMap;
  items: IdMap;
}

export interface OnlineModelOptions {
  /** Rows for users the base model never saw (default 10 000). */
  userSlots?: number;
  /** Rows for items the base model never saw (default 5 000). */
  itemSlots?: number;
  /** Optimiser of the online steps (default Adam, lr 0.004). */
  optimizer?: OptimizerSettings;
  /** Past events kept for replay (default 20 000; 0 turns replay off). */
  replayCapacity?: number;
  /** Replayed samples per new event in a step (default 0.5). */
  replayRatio?: number;
  /** Sightings an id the base model never saw needs before it takes a slot (default 2; 1: at the first). */
  admitAfter?: number;
  /** The most of one user's events learned per `userWindow` events (defaults 2 000 and 10 000; decayed counts). */
  maxUserEvents?: number;
  userWindow?: number;
  /** The share of the replay reservoir one user may hold (default 0.05). */
  maxReplayShare?: number;
  seed?: number;
}

export const DEFAULT_ONLINE_OPTIMIZER: OptimizerSettings = { optimizer: "adam", lr: 0.004 };

/** What an online model does with the options it is not given. */
export const ONLINE_MODEL_DEFAULTS = {
  userSlots: 10_000,
  itemSlots: 5_000,
  optimizer: DEFAULT_ONLINE_OPTIMIZER,
  replayCapacity: 20_000,
  replayRatio: 0.5,
  admitAfter: 2,
  maxUserEvents: 2_000,
  userWindow: 10_000,
  maxReplayShare: 0.05,
} as const;

/** A user's decayed count of learned events, as of event number `at`. */
interface UserBudget {
  count: number;
  at: number;
}

/** A past event kept for replay, with the recent items the user had then. */
interface ReplaySample {
  user: string;
  item: string;
  history: readonly string[];
}

export class OnlineModel {
  /** The model being trained: the base model's rows, then the slots (users: then the unknown-user row). */
  readonly model: DotProductModel;
  readonly spec: ModelSpec;
  readonly users: IdSlots;
  readonly items: IdSlots;
  /** Events taken in since construction (those the per-user cap left out included). */
  learned = 0;
  /** Of those, events the per-user cap left out. */
  capped = 0;
  private readonly optimizer: Optimizer;
  private rng: DataRng;
  /** Each user's recent items (external ids, oldest first), at most the model's history length. */
  private readonly recent = new Map<string, string[]>();
  /**
   * The recent items of users not yet admitted to a slot, least recently seen first, at most as many users
   * as there are user slots: what they are encoded from meanwhile, without memory growing with a flood.
   */
  private readonly probation = new Map<string, string[]>();
  private readonly replay: ReplaySample[] = [];
  private replaySeen = 0;
  /** Samples of each user in the reservoir. */
  private readonly replayUsers = new Map<string, number>();
  private readonly replayCapacity: number;
  private readonly replayRatio: number;
  private readonly maxReplayPerUser: number;
  private readonly admitAfter: number;
  /** Sightings of ids the base model never saw (only counted while `admitAfter` > 1). */
  private userSightings = new Sightings();
  private itemSightings = new Sightings();
  private readonly maxUserEvents: number;
  private readonly userWindow: number;
  private readonly budgets = new Map<string, UserBudget>();

  constructor(
    readonly base: BaseModel,
    readonly options: OnlineModelOptions = {},
    /** The model to continue from (a clone's source); default the base model. */
    from?: { model: DotProductModel; users: IdSlots; items: IdSlots },
  ) {
    const baseModel = dotProduct(base.model);
    this.spec = specOf(baseModel);
    const userTable = (this.spec as { userTable?: { kind: string } }).userTable?.kind ?? "full";
    const itemTable = (this.spec as { itemTable?: { kind: string } }).itemTable?.kind ?? "full";
    if (userTable === "qr" || itemTable === "qr") {
      throw new Error("online learning cannot grow quotient-remainder id tables (use full or hashed tables)");
    }
    this.users = from?.users.clone() ?? new IdSlots(options.userSlots ?? ONLINE_MODEL_DEFAULTS.userSlots);
    this.items = from?.items.clone() ?? new IdSlots(options.itemSlots ?? ONLINE_MODEL_DEFAULTS.itemSlots);
    // One more item row than the slots: a zero row that scores items the model has not met yet.
    const context = growContext(baseModel.context, base.users.size + this.users.capacity, this.itemRows + 1);
    this.model = dotProduct(createModel(this.spec, context));
    const source = from?.model ?? baseModel;
    copyGrown(
      source,
      this.model,
      from ? undefined : { users: base.users.size, items: base.items.size },
      this.coldItemRow,
    );
    this.model.train();
    this.optimizer = createOptimizer(options.optimizer ?? ONLINE_MODEL_DEFAULTS.optimizer, this.model.parameters());
    this.rng = new DataRng(options.seed ?? 0);
    const d = ONLINE_MODEL_DEFAULTS;
    this.replayCapacity = options.replayCapacity ?? d.replayCapacity;
    this.replayRatio = options.replayRatio ?? d.replayRatio;
    this.admitAfter = options.admitAfter ?? d.admitAfter;
    this.maxUserEvents = options.maxUserEvents ?? d.maxUserEvents;
    this.userWindow = options.userWindow ?? d.userWindow;
    const maxReplayShare = options.maxReplayShare ?? d.maxReplayShare;
    for (const [name, value] of [
      ["admitAfter", this.admitAfter],
      ["maxUserEvents", this.maxUserEvents],
      ["userWindow", this.userWindow],
    ] as const) {
      if (!Number.isSafeInteger(value) || value < 1) {
        throw new RangeError(`OnlineModel: ${name} must be a positive integer (got ${value})`);
      }
    }
    if (!(maxReplayShare > 0 && maxReplayShare <= 1)) {
      throw new RangeError(`OnlineModel: maxReplayShare must be in (0, 1] (got ${maxReplayShare})`);
    }
    this.maxReplayPerUser = Math.max(1, Math.floor(maxReplayShare * this.replayCapacity));
  }

  /** Recent items a user is encoded from. */
  get historyLength(): number {
    return this.model.historyLength;
  }

  /** Item rows in use: the base model's and the occupied slots. */
  get activeItems(): number {
    return this.base.items.size + this.items.size;
  }

  /** The user's recent items (external ids, oldest first): live events, else the base model's history. */
  recentItems(user: string): readonly string[] {
    return this.recent.get(user) ?? this.probation.get(user) ?? this.baseHistory(user);
  }

  /** Scores of `items` for `user` whose recent items are `history` (external ids); nothing is learned. */
  score(user: string, history: readonly string[], items: readonly string[]): Float32Array {
    return this.evaluating(() => {
      const u = this.userVectors([user], [history]);
      const v = this.itemVectors(Int32Array.from(items, (item) => this.itemRow(item) ?? this.coldItemRow));
      return ops.linear(u, v).data.slice();
    });
  }

  /**
   * Scores of every item row in use (0 .. activeItems - 1) for each user: [users.length · activeItems],
   * row-major. Item vectors are computed once for all the users.
   */
  scoreCatalogue(users: readonly string[], histories: readonly (readonly string[])[]): Float32Array {
    return this.evaluating(() => {
      const v = this.itemVectors(Int32Array.from({ length: this.activeItems }, (_, i) => i));
      // u · vᵀ: the linear layer's product (no transposed copy of the item vectors).
      return ops.linear(this.userVectors(users, histories), v).data.slice();
    });
  }

  /** User vectors [n, dim] of users (external ids) with their recent items; unknown users get the unknown row. */
  userVectors(users: readonly string[], histories: readonly (readonly string[])[]): Tensor {
    const rows = new Ids(Int32Array.from(users, (user) => this.userRow(user) ?? this.unknownUserRow));
    return this.model.userVectors(rows, this.bag(histories));
  }

  /** Item vectors [n, dim] of item rows. */
  itemVectors(rows: Int32Array): Tensor {
    return this.model.itemVectors(new Ids(rows));
  }

  /** The external id of an item row in use. */
  itemId(row: number): string {
    const baseItems = this.base.items.size;
    if (row < baseItems) return this.base.items.external(row);
    const id = this.items.owner(row - baseItems);
    if (id === undefined) throw new RangeError(`OnlineModel: item row ${row} is not in use`);
    return id;
  }

  /**
   * Learn from events in stream order (one optimiser step per `batchSize` of them, each mixed with replayed
   * samples); new ids seen often enough take slots; a user past their cap is not learned from (their recent
   * items still follow). Returns the mean BPR loss.
   */
  learn(events: readonly LiveEvent[], batchSize = 256): number {
    if (!Number.isSafeInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`OnlineModel.learn: batch size must be a positive integer (got ${batchSize})`);
    }
    let total = 0;
    let count = 0;
    for (let start = 0; start < events.length; start += batchSize) {
      const samples: ReplaySample[] = [];
      const batch = events.slice(start, start + batchSize);
      for (const event of batch) {
        const history = this.recentItems(event.user).slice();
        if (this.withinBudget(event.user)) samples.push({ user: event.user, item: event.item, history });
        else this.capped++;
        this.remember(event, history);
        this.learned++;
      }
      if (samples.length === 0) continue;
      const replayed = this.drawReplay(Math.round(samples.length * this.replayRatio));
      for (const s of samples) this.keep(s);
      const loss = this.step([...samples, ...replayed]);
      total += loss * samples.length;
      count += samples.length;
    }
    return count ? total / count : 0;
  }

  /** `steps` optimiser steps on replayed past events alone: more passes over the past without new events. */
  rehearse(steps: number, batchSize = 256): number {
    let total = 0;
    for (let s = 0; s < steps; s++) total += this.step(this.drawReplay(batchSize));
    return steps ? total / steps : 0;
  }

  /**
   * Train on `steps` of samples built by `build` (for distillation): `build` receives this model and returns
   * the loss of one step; the optimiser applies it. Returns the mean loss.
   */
  train(steps: number, build: (model: OnlineModel) => Tensor | null): number {
    let total = 0;
    let n = 0;
    for (let s = 0; s < steps; s++) {
      const loss = build(this);
      if (!loss) continue;
      loss.backward();
      this.optimizer.step();
      total += loss.item();
      n++;
      endStep();
    }
    return n ? total / n : 0;
  }

  /** A copy that learns on its own from here, as this model would (rows, recent items, replay, optimiser, draws). */
  clone(): OnlineModel {
    const copy = new OnlineModel(this.base, this.options, this);
    for (const [user, items] of this.recent) copy.recent.set(user, items.slice());
    for (const [user, items] of this.probation) copy.probation.set(user, items.slice());
    copy.replay.push(...this.replay);
    copy.replaySeen = this.replaySeen;
    for (const [user, n] of this.replayUsers) copy.replayUsers.set(user, n);
    for (const [user, b] of this.budgets) copy.budgets.set(user, { ...b });
    copy.userSightings = this.userSightings.clone();
    copy.itemSightings = this.itemSightings.clone();
    copy.learned = this.learned;
    copy.capped = this.capped;
    // The copy goes on learning exactly as this model would: same draws, optimiser moments and step count.
    copy.rng = this.rng.clone();
    const from = this.optimizer.stateTensors();
    copy.optimizer.stateTensors().forEach((t, k) => t.data.set(from[k]!.data));
    copy.optimizer.stepCount = this.optimizer.stepCount;
    return copy;
  }

  /**
   * The model as an ordinary one over every id it has a row for — the base ids, then the ids holding slots —
   * with its id maps: what an artefact of the online model holds.
   */
  export(): BaseModel {
    const users = IdMap.fromJSON(this.base.users.toJSON());
    const items = IdMap.fromJSON(this.base.items.toJSON());
    const userRows: number[] = Array.from({ length: users.size }, (_, u) => u);
    const itemRows: number[] = Array.from({ length: items.size }, (_, i) => i);
    for (const [slot, id] of this.users.entries()) {
      if (users.get(id) !== undefined) continue;
      users.add(id);
      userRows.push(this.base.users.size + slot);
    }
    for (const [slot, id] of this.items.entries()) {
      if (items.get(id) !== undefined) continue;
      items.add(id);
      itemRows.push(this.base.items.size + slot);
    }
    userRows.push(this.unknownUserRow);
    const baseContext = this.base.model.context;
    const context = growContext(baseContext, users.size, items.size);
    const model = createModel(this.spec, context);
    const target = new Map(model.namedParameters());
    for (const [name, param] of this.model.namedParameters()) {
      const out = target.get(name)!;
      const rows = USER_TABLES.has(name) ? userRows : ITEM_TABLES.has(name) ? itemRows : null;
      if (rows) gatherRows(param, out, rows);
      else out.data.set(param.data);
    }
    model.eval();
    return { model, users, items };
  }

  /** The model row of a user (undefined: never seen, neither in training nor in the stream so far). */
  userRow(user: string): number | undefined {
    const known = this.base.users.get(user);
    if (known !== undefined) return known;
    const slot = this.users.get(user);
    return slot === undefined ? undefined : this.base.users.size + slot;
  }

  /** The model row of an item (undefined: never seen). */
  itemRow(item: string): number | undefined {
    const known = this.base.items.get(item);
    if (known !== undefined) return known;
    const slot = this.items.get(item);
    return slot === undefined ? undefined : this.base.items.size + slot;
  }

  /** The row every user without one of their own is encoded with: the trained unknown user. */
  get unknownUserRow(): number {
    return this.model.numUsers;
  }

  /** A zero item row, never trained: how an item the model has not met scores. */
  get coldItemRow(): number {
    return this.itemRows;
  }

  /** History bags (one per list of external ids; items without a row are left out), last historyLength each. */
  bag(histories: readonly (readonly string[])[]): HistoryBag {
    const length = this.historyLength;
    const offsets = new Int32Array(histories.length);
    const ids: number[] = [];
    histories.forEach((history, h) => {
      offsets[h] = ids.length;
      for (const item of history.slice(Math.max(0, history.length - length))) {
        const row = this.itemRow(item);
        if (row !== undefined) ids.push(row);
      }
    });
    return { ids: Int32Array.from(ids), offsets };
  }

  /** A uniformly drawn item row in use other than `not`. */
  sampleItem(not: number): number {
    const n = this.activeItems;
    if (n < 2) return not;
    // Slots fill from 0 and are recycled in place, so the rows in use are exactly 0 .. activeItems - 1.
    for (;;) {
      const row = this.rng.int(n);
      if (row !== not) return row;
    }
  }

  private get itemRows(): number {
    return this.base.items.size + this.items.capacity;
  }

  private baseHistory(user: string): string[] {
    const index = this.base.users.get(user);
    const histories = this.base.model.context.histories;
    if (index === undefined || !histories || this.historyLength === 0) return [];
    const end = histories.offsets[index + 1]!;
    const start = Math.max(histories.offsets[index]!, end - this.historyLength);
    return Array.from(histories.items.subarray(start, end), (i) => this.base.items.external(i));
  }

  /**
   * Give the event's ids rows once they are seen often enough (resetting recycled ones) and add its item to
   * the user's recent items.
   */
  private remember(event: LiveEvent, history: readonly string[]): void {
    if (this.base.users.get(event.user) === undefined && this.admits(this.users, this.userSightings, event.user)) {
      const a = this.users.assign(event.user);
      if (a.evicted !== undefined) this.recent.delete(a.evicted);
      if (a.fresh) this.resetUserRow(this.base.users.size + a.slot);
    }
    if (this.base.items.get(event.item) === undefined && this.admits(this.items, this.itemSightings, event.item)) {
      const a = this.items.assign(event.item);
      if (a.fresh) this.resetItemRow(this.base.items.size + a.slot);
    }
    if (this.historyLength > 0) {
      // A new list: `history` is the event's sample's, which must stay the items from before the event.
      const next = [...history, event.item];
      if (next.length > this.historyLength) next.shift();
      this.probation.delete(event.user);
      if (this.userRow(event.user) !== undefined) {
        this.recent.set(event.user, next);
      } else {
        this.probation.set(event.user, next);
        if (this.probation.size > this.users.capacity) this.probation.delete(this.probation.keys().next().value!);
      }
    }
  }

  /** An id holding a slot keeps it; a new one takes one once seen `admitAfter` times. */
  private admits(slots: IdSlots, sightings: Sightings, id: string): boolean {
    return this.admitAfter <= 1 || slots.get(id) !== undefined || sightings.see(id) >= this.admitAfter;
  }

  /** Whether the user's event is learned from: their decayed count of learned events is below the cap. */
  private withinBudget(user: string): boolean {
    const now = this.learned;
    const budget = this.budgets.get(user) ?? { count: 0, at: now };
    budget.count *= Math.exp((budget.at - now) / this.userWindow);
    budget.at = now;
    const within = budget.count < this.maxUserEvents;
    if (within) budget.count++;
    this.budgets.set(user, budget);
    // Forget users whose count has decayed away, once a window: the map holds only recently active users.
    if (now % this.userWindow === 0) {
      for (const [u, b] of this.budgets) {
        if (b.count * Math.exp((b.at - now) / this.userWindow) < 0.5) this.budgets.delete(u);
      }
    }
    return within;
  }

  /**
   * Reservoir sampling: every past event has the same chance to be in the buffer, except that a user who
   * holds `maxReplayShare` of it already gets no more room.
   */
  private keep(sample: ReplaySample): void {
    if (this.replayCapacity === 0) return;
    this.replaySeen++;
    const held = this.replayUsers.get(sample.user) ?? 0;
    if (this.replay.length < this.replayCapacity) {
      if (held >= this.maxReplayPerUser) return;
      this.replay.push(sample);
      this.replayUsers.set(sample.user, held + 1);
      return;
    }
    const r = this.rng.int(this.replaySeen);
    if (r >= this.replayCapacity) return;
    const replaced = this.replay[r]!.user;
    if (replaced !== sample.user && held >= this.maxReplayPerUser) return;
    this.replay[r] = sample;
    this.replayUsers.set(sample.user, held + 1);
    const left = this.replayUsers.get(replaced)! - 1;
    if (left === 0) this.replayUsers.delete(replaced);
    else this.replayUsers.set(replaced, left);
  }

  private drawReplay(n: number): ReplaySample[] {
    if (this.replay.length === 0) return [];
    return Array.from({ length: n }, () => this.replay[this.rng.int(this.replay.length)]!);
  }

  /** One BPR step over the samples whose user and item still have rows. */
  private step(samples: readonly ReplaySample[]): number {
    const loss = this.bprLoss(samples);
    if (!loss) return 0;
    loss.backward();
    this.optimizer.step();
    const value = loss.item();
    endStep();
    return value;
  }

  /** BPR loss of samples (each against one sampled item) whose user and item have rows; null if none has. */
  bprLoss(samples: readonly { user: string; item: string; history: readonly string[] }[]): Tensor | null {
    const live = samples.filter((s) => this.userRow(s.user) !== undefined && this.itemRow(s.item) !== undefined);
    if (live.length === 0) return null;
    const positives = Int32Array.from(live, (s) => this.itemRow(s.item)!);
    const negatives = Int32Array.from(positives, (p) => this.sampleItem(p));
    const u = this.userVectors(
      live.map((s) => s.user),
      live.map((s) => s.history),
    );
    return ops.bprLoss(ops.rowDot(u, this.itemVectors(positives)), ops.rowDot(u, this.itemVectors(negatives)));
  }

  /** Run `f` in eval mode without a graph, ending the scratch step. */
  private evaluating<T>(f: () => T): T {
    const wasTraining = this.model.training;
    this.model.eval();
    try {
      return noGrad(() => {
        const out = f();
        endStep();
        return out;
      });
    } finally {
      this.model.train(wasTraining);
    }
  }

  private resetUserRow(row: number): void {
    for (const [name, param] of this.model.namedParameters()) {
      if (!USER_TABLES.has(name)) continue;
      const dim = param.shape[1]!;
      param.data.copyWithin(row * dim, this.unknownUserRow * dim, (this.unknownUserRow + 1) * dim);
      this.optimizer.resetRows(param, [row]);
    }
  }

  private resetItemRow(row: number): void {
    for (const [name, param] of this.model.namedParameters()) {
      if (!ITEM_TABLES.has(name)) continue;
      const dim = param.shape[1]!;
      param.data.fill(0, row * dim, (row + 1) * dim);
      this.optimizer.resetRows(param, [row]);
    }
  }
}

/** The model, if it scores by user and item vectors: the two sides online learning trains and grows. */
function dotProduct(model: Recommender): DotProductModel {
  if (!isDotProduct(model)) {
    throw new Error(`online learning needs a dot-product model (user and item vectors), not ${model.kind}`);
  }
  return model;
}
