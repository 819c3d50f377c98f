/**
 * The online loop: the serving student learns from every batch of events; on a schedule, or when its
 * quality on recent events drops (drift), the teacher is refreshed and a re-distilled candidate is built;
 * the candidate shadows the serving student on the next events and is promoted only if it ranks them
 * no worse (beyond a tolerance); after a promotion the replaced student keeps shadowing, and if the new
 * one then does worse the loop rolls back.
 *
 * Quality is measured prequentially on the live stream: before any model learns from an event, each
 * live model ranks the event's item among sampled items the user has not interacted with recently, and
 * NDCG@10 of that rank is the event's score. Every decision is reported with the figures behind it.
 */
import { DataRng } from "../data/rng.js";
import { drawExcluding, rankOfFirst } from "../eval/protocol.js";
import type { LiveEvent, OnlineModel } from "./model.js";
import { distilCandidate, recentUsers, refreshTeacher, teacherLists, type RedistillOptions } from "./redistill.js";

export interface GateOptions {
  /** Events the candidate shadows the serving student on before the decision (default 2 000). */
  holdout?: number;
  /** Relative NDCG@10 the candidate may lose to the serving student and still be promoted (default 0: none). */
  tolerance?: number;
}

export interface WatchOptions {
  /** Events watched after a promotion (default 2 000). */
  window?: number;
  /** Relative NDCG@10 the promoted student may lose to the one it replaced before a rollback (default 0.05). */
  tolerance?: number;
}

export interface DriftOptions {
  /** Events in the recent window compared with the reference window (default 2 000). */
  window?: number;
  /** Relative drop of NDCG@10 from the reference window that counts as drift (default 0.1). */
  drop?: number;
}

export interface OnlineLoopOptions {
  /** Events per learning step (default 256). */
  batch?: number;
  /** Re-distil every this many events (default 20 000; 0: only on drift). */
  redistillEvery?: number;
  /** Drift detection (false: off). */
  drift?: DriftOptions | false;
  gate?: GateOptions;
  watch?: WatchOptions;
  /** Recent events kept for the teacher's refresh and the soft labels' users (default 20 000). */
  recentEvents?: number;
  distill?: RedistillOptions;
  /** Sampled items each event's item is ranked against (default 99). */
  negatives?: number;
  seed?: number;
}

/** What the loop does with the options it is not given. */
export const LOOP_DEFAULTS = {
  batch: 256,
  redistillEvery: 20_000,
  drift: { window: 2000, drop: 0.1 },
  gate: { holdout: 2000, tolerance: 0 },
  watch: { window: 2000, tolerance: 0.05 },
  recentEvents: 20_000,
  negatives: 99,
} as const;

export type DecisionKind = "redistill" | "promote" | "discard" | "rollback" | "confirm";

/** Something the loop decided, with the figures behind it. */
export interface Decision {
  kind: DecisionKind;
  /** Events the loop had seen when it decided. */
  at: number;
  reason: string;
  /** Mean NDCG@10 of the serving student and of the other model over the window the decision is based on. */
  serving?: number;
  other?: number;
}

export interface OnlineLoopHooks {
  onDecision?: (decision: Decision) => void;
  /** Another student serves (promotion or rollback). */
  onServe?: (student: OnlineModel, decision: Decision) => void;
}

/** Running mean of per-event NDCG@10 over a phase. */
class Mean {
  sum = 0;
  count = 0;
  add(v: number): void {
    this.sum += v;
    this.count++;
  }
  get value(): number {
    return this.count ? this.sum / this.count : 0;
  }
}

type Phase =
  | { kind: "idle" }
  | { kind: "gate"; candidate: OnlineModel; serving: Mean; other: Mean; reason: string }
  | { kind: "watch"; previous: OnlineModel; serving: Mean; other: Mean };

export class OnlineLoop {
  serving: OnlineModel;
  /** Events seen. */
  events = 0;
  /** Seconds spent learning (the serving student's steps only; shadows and re-distillation excluded). */
  learnSeconds = 0;
  readonly decisions: Decision[] = [];
  private phase: Phase = { kind: "idle" };
  private readonly recent: LiveEvent[] = [];
  /** Events since the teacher last learned. */
  private teacherBacklog: LiveEvent[] = [];
  private sinceRedistill = 0;
  /** The serving student's per-event NDCG@10 over the last drift window (ring) and its reference mean. */
  private readonly window: Float64Array;
  private windowFill = 0;
  private reference: number | undefined;
  private readonly rng: DataRng;
  private readonly options: {
    batch: number;
    redistillEvery: number;
    drift: Required<DriftOptions> | false;
    gate: Required<GateOptions>;
    watch: Required<WatchOptions>;
    recentEvents: number;
    distill: RedistillOptions;
    negatives: number;
  };

  constructor(
    student: OnlineModel,
    readonly teacher: OnlineModel | null,
    options: OnlineLoopOptions = {},
    private readonly hooks: OnlineLoopHooks = {},
  ) {
    this.serving = student;
    const d = LOOP_DEFAULTS;
    this.options = {
      batch: options.batch ?? d.batch,
      redistillEvery: options.redistillEvery ?? d.redistillEvery,
      drift:
        options.drift === false
          ? false
          : { window: options.drift?.window ?? d.drift.window, drop: options.drift?.drop ?? d.drift.drop },
      gate: {
        holdout: options.gate?.holdout ?? d.gate.holdout,
        tolerance: options.gate?.tolerance ?? d.gate.tolerance,
      },
      watch: {
        window: options.watch?.window ?? d.watch.window,
        tolerance: options.watch?.tolerance ?? d.watch.tolerance,
      },
      recentEvents: options.recentEvents ?? d.recentEvents,
      distill: options.distill ?? {},
      negatives: options.negatives ?? d.negatives,
    };
    for (const [name, value] of [
      ["batch", this.options.batch],
      ["gate.holdout", this.options.gate.holdout],
      ["watch.window", this.options.watch.window],
      ["recentEvents", this.options.recentEvents],
    ] as const) {
      if (!Number.isSafeInteger(value) || (value as number) < 1) {
        throw new RangeError(`online: ${name} must be a positive integer (got ${value})`);
      }
    }
    if (!Number.isSafeInteger(this.options.redistillEvery) || this.options.redistillEvery < 0) {
      throw new RangeError(`online: redistillEvery must be an integer ≥ 0 (got ${this.options.redistillEvery})`);
    }
    if (!Number.isSafeInteger(this.options.negatives) || this.options.negatives < 1) {
      throw new RangeError(`online: negatives must be a positive integer (got ${this.options.negatives})`);
    }
    for (const [name, value] of [
      ["gate.tolerance", this.options.gate.tolerance],
      ["watch.tolerance", this.options.watch.tolerance],
    ] as const) {
      if (!(value >= 0 && value <= 1)) throw new RangeError(`online: ${name} must be in [0, 1] (got ${value})`);
    }
    if (this.options.drift) {
      const { window, drop } = this.options.drift;
      if (!Number.isSafeInteger(window) || window < 1) throw new RangeError("online: drift.window must be ≥ 1");
      if (!(drop > 0 && drop < 1)) throw new RangeError("online: drift.drop must be in (0, 1)");
    }
    this.window = new Float64Array(this.options.drift ? this.options.drift.window : 0);
    this.rng = new DataRng(options.seed ?? 0);
  }

  /** What the loop is doing: "idle", "gate" (a candidate shadows) or "watch" (after a promotion). */
  get state(): Phase["kind"] {
    return this.phase.kind;
  }

  /** Events learned per second by the serving student. */
  get eventsPerSecond(): number {
    return this.learnSeconds > 0 ? this.serving.learned / this.learnSeconds : 0;
  }

  /** Evaluate, then learn from, events in stream order; decides whatever falls due. */
  learn(events: readonly LiveEvent[]): void {
    for (let start = 0; start < events.length; start += this.options.batch) {
      const chunk = events.slice(start, start + this.options.batch);
      this.evaluate(chunk);
      const began = performance.now();
      this.serving.learn(chunk, this.options.batch);
      this.learnSeconds += (performance.now() - began) / 1000;
      this.shadow()?.learn(chunk, this.options.batch);
      this.events += chunk.length;
      this.sinceRedistill += chunk.length;
      this.keepRecent(chunk);
      this.decide();
    }
  }

  /**
   * Put a candidate through the gate: it shadows the serving student on the next `gate.holdout` events and
   * serves only if it ranks them no worse beyond the tolerance. Refused while another candidate is shadowing.
   */
  propose(candidate: OnlineModel, reason: string): void {
    if (this.phase.kind !== "idle") throw new Error(`online: cannot propose a candidate while in ${this.phase.kind}`);
    this.phase = { kind: "gate", candidate, serving: new Mean(), other: new Mean(), reason };
  }

  /** Refresh the teacher, distil a candidate from it and put it through the gate. */
  redistill(reason: string): void {
    if (!this.teacher) throw new Error("online: re-distillation needs a teacher");
    const distill = this.options.distill;
    refreshTeacher(this.teacher, this.teacherBacklog, distill.teacherRehearsal);
    this.teacherBacklog = [];
    const users = recentUsers(this.recent, distill.users ?? 2000);
    const lists = teacherLists(this.teacher, users, {
      ...distill,
      seed: this.rng.int(2 ** 31),
    });
    const { candidate, loss } = distilCandidate(this.serving, lists, this.recent, {
      ...distill,
      seed: this.rng.int(2 ** 31),
    });
    this.sinceRedistill = 0;
    this.record({
      kind: "redistill",
      at: this.events,
      reason: `${reason}; ${users.length} users, loss ${loss.toFixed(4)}`,
    });
    this.propose(candidate, reason);
  }

  /** The model learning alongside the serving one: a candidate in the gate, the replaced one under watch. */
  private shadow(): OnlineModel | null {
    if (this.phase.kind === "gate") return this.phase.candidate;
    if (this.phase.kind === "watch") return this.phase.previous;
    return null;
  }

  private evaluate(chunk: readonly LiveEvent[]): void {
    const shadow = this.shadow();
    for (const event of chunk) {
      const history = this.serving.recentItems(event.user);
      const candidates = this.candidates(event, history);
      const served = ndcgAt10(rankOfFirst(this.serving.score(event.user, history, candidates)));
      this.observe(served);
      if (shadow && this.phase.kind !== "idle") {
        const other = ndcgAt10(rankOfFirst(shadow.score(event.user, shadow.recentItems(event.user), candidates)));
        this.phase.serving.add(served);
        this.phase.other.add(other);
      }
    }
  }

  /** The event's item first, then sampled items in use that the user has not interacted with recently. */
  private candidates(event: LiveEvent, history: readonly string[]): string[] {
    const serving = this.serving;
    const excluded = new Set<number>();
    for (const item of [...history, event.item]) {
      const row = serving.itemRow(item);
      if (row !== undefined) excluded.add(row);
    }
    const drawn = drawExcluding(excluded, serving.activeItems, this.options.negatives, this.rng);
    return [event.item, ...Array.from(drawn, (row) => serving.itemId(row))];
  }

  /** Track the serving student's recent NDCG@10 for drift detection. */
  private observe(ndcg: number): void {
    if (!this.options.drift) return;
    this.window[this.windowFill % this.window.length] = ndcg;
    this.windowFill++;
  }

  private recentMean(): number | undefined {
    if (!this.options.drift || this.windowFill < this.window.length) return undefined;
    let sum = 0;
    for (const v of this.window) sum += v;
    return sum / this.window.length;
  }

  /** Start measuring drift afresh (a new student serves). */
  private resetDrift(): void {
    this.windowFill = 0;
    this.reference = undefined;
  }

  private decide(): void {
    const phase = this.phase;
    if (phase.kind === "gate" && phase.serving.count >= this.options.gate.holdout) {
      const serving = phase.serving.value;
      const other = phase.other.value;
      const floor = serving * (1 - this.options.gate.tolerance);
      if (other >= floor) {
        const previous = this.serving;
        this.serving = phase.candidate;
        this.phase = { kind: "watch", previous, serving: new Mean(), other: new Mean() };
        this.resetDrift();
        this.serve({
          kind: "promote",
          at: this.events,
          reason: `candidate (${phase.reason}) NDCG@10 ${fmt(other)} ≥ ${fmt(floor)} (serving ${fmt(serving)} − ${pct(this.options.gate.tolerance)})`,
          serving,
          other,
        });
      } else {
        this.phase = { kind: "idle" };
        this.record({
          kind: "discard",
          at: this.events,
          reason: `candidate (${phase.reason}) NDCG@10 ${fmt(other)} < ${fmt(floor)} (serving ${fmt(serving)} − ${pct(this.options.gate.tolerance)})`,
          serving,
          other,
        });
      }
    } else if (phase.kind === "watch" && phase.serving.count >= this.options.watch.window) {
      const serving = phase.serving.value;
      const other = phase.other.value;
      const floor = other * (1 - this.options.watch.tolerance);
      this.phase = { kind: "idle" };
      if (serving < floor) {
        this.serving = phase.previous;
        this.resetDrift();
        this.serve({
          kind: "rollback",
          at: this.events,
          reason: `promoted student's live NDCG@10 ${fmt(serving)} < ${fmt(floor)} (replaced student ${fmt(other)} − ${pct(this.options.watch.tolerance)})`,
          serving,
          other,
        });
      } else {
        this.record({
          kind: "confirm",
          at: this.events,
          reason: `promoted student's live NDCG@10 ${fmt(serving)} ≥ ${fmt(floor)}`,
          serving,
          other,
        });
      }
    }
    // A gate or watch that just ended leaves the loop idle: a re-distillation due now starts at once.
    if (this.phase.kind !== "idle" || !this.teacher) return;
    const every = this.options.redistillEvery;
    if (every > 0 && this.sinceRedistill >= every) {
      this.redistill(`schedule: ${this.sinceRedistill} events since the last re-distillation`);
      return;
    }
    const recent = this.recentMean();
    if (recent === undefined) return;
    if (this.reference === undefined) {
      this.reference = recent;
      return;
    }
    const drop = (this.options.drift as Required<DriftOptions>).drop;
    if (recent < this.reference * (1 - drop)) {
      const reason = `drift: NDCG@10 over the last ${this.window.length} events ${fmt(recent)} < ${fmt(this.reference)} − ${pct(drop)}`;
      this.resetDrift();
      this.redistill(reason);
    }
  }

  private keepRecent(chunk: readonly LiveEvent[]): void {
    this.recent.push(...chunk);
    if (this.recent.length > this.options.recentEvents)
      this.recent.splice(0, this.recent.length - this.options.recentEvents);
    if (this.teacher) {
      this.teacherBacklog.push(...chunk);
      // A teacher that is never refreshed must not hold the whole stream: it catches up on the newest events.
      if (this.teacherBacklog.length > this.options.recentEvents) {
        this.teacherBacklog.splice(0, this.teacherBacklog.length - this.options.recentEvents);
      }
    }
  }

  private record(decision: Decision): void {
    this.decisions.push(decision);
    if (this.decisions.length > MAX_DECISIONS) this.decisions.shift();
    this.hooks.onDecision?.(decision);
  }

  private serve(decision: Decision): void {
    this.record(decision);
    this.hooks.onServe?.(this.serving, decision);
  }
}

/** Decisions kept in `decisions` (a server runs for months; the log and metrics keep the rest). */
const MAX_DECISIONS = 1000;

function ndcgAt10(rank: number): number {
  return rank < 10 ? 1 / Math.log2(rank + 2) : 0;
}

function fmt(v: number): string {
  return v.toFixed(4);
}

function pct(v: number): string {
  return `${+(v * 100).toFixed(2)}%`;
}
