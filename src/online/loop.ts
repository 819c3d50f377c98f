/**
 * The online loop: the serving student learns from every batch of events; on a schedule, or when its
 * quality on recent events drops (drift), the teacher is refreshed and a re-distilled candidate is built;
 * the candidate shadows the serving student on the next events and is promoted only if it ranks the
 * informative ones better, beyond noise; after a promotion the replaced student keeps shadowing, and if
 * the new one then does worse, beyond noise, the loop rolls back.
 *
 * Quality is measured prequentially on the live stream: before any model learns from an event, each
 * live model ranks the event's item among sampled items the user has not interacted with recently, and
 * NDCG@10 of that rank is the event's score. Every decision is reported with the figures behind it and
 * the rule that decided.
 *
 * Only informative events count for the gate and the watch: an event whose item one of the two models has
 * no row for tells them apart by nothing but chance (a flood of unknown ids), and a user who makes up a
 * large share of the window (spam, a flood) would decide it alone. The comparison is paired: the mean of
 * the per-event differences against its standard error, so an exact tie or a difference within noise
 * never promotes.
 */
import { DataRng } from "../data/rng.js";
import { drawExcluding, rankOfFirst } from "../eval/protocol.js";
import type { LiveEvent, OnlineModel } from "./model.js";
import { distilCandidate, recentUsers, refreshTeacher, teacherLists, type RedistillOptions } from "./redistill.js";

/** Which holdout events are informative enough to compare two models on (the gate's and the watch's). */
export interface EvidenceOptions {
  /** Informative events needed for a decision (default a quarter of the window). */
  minEvents?: number;
  /** Distinct users among them needed for a decision (default 20). */
  minUsers?: number;
  /** A user with more than this share of the window's events is a flooder: none of theirs count (default 0.25). */
  maxUserShare?: number;
  /** Standard errors of the paired difference that a decision needs beyond it (default 1). */
  standardErrors?: number;
  /** The window is extended until it holds enough informative events, up to this many events (default 4 × window). */
  maxEvents?: number;
}

export interface GateOptions extends EvidenceOptions {
  /** Events the candidate shadows the serving student on before the decision (default 2 000). */
  holdout?: number;
  /**
   * Relative NDCG@10 (of the serving student's) by which the candidate's gain may fall short of the noise
   * margin (default 0: none). Whatever it is, the candidate must be better on average: a tie never promotes.
   */
  tolerance?: number;
}

export interface WatchOptions extends EvidenceOptions {
  /** Events watched after a promotion (default 2 000). */
  window?: number;
  /**
   * Relative NDCG@10 the promoted student may lose to the one it replaced before a rollback (default 0.05);
   * the loss must also be beyond the noise margin.
   */
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
  evidence: { minUsers: 20, maxUserShare: 0.25, standardErrors: 1 },
  recentEvents: 20_000,
  negatives: 99,
} as const;

export type DecisionKind = "redistill" | "promote" | "discard" | "rollback" | "confirm";

/**
 * The rule that decided a gate or a watch. Gate: "better" (the candidate better beyond the noise margin:
 * promote), "tie" (no informative event told the two apart), "not-better" (no better on average), "noise"
 * (better, within the margin). Watch: "worse" (the promoted student worse beyond tolerance and margin:
 * rollback), "noise" (worse beyond tolerance, within the margin), "not-worse". Both: "uninformative" (too
 * few informative events or users even in the extended window).
 */
export type DecisionRule = "better" | "tie" | "not-better" | "noise" | "worse" | "not-worse" | "uninformative";

/** Something the loop decided, with the figures behind it. */
export interface Decision {
  kind: DecisionKind;
  /** Events the loop had seen when it decided. */
  at: number;
  reason: string;
  /**
   * Mean NDCG@10 of the serving student and of the other model over the informative events of the window
   * the decision is based on.
   */
  serving?: number;
  other?: number;
  /** The gate's or the watch's deciding rule, with the evidence behind it. */
  rule?: DecisionRule;
  /** Informative events and their distinct users (flooders left out); events in the window. */
  informative?: number;
  users?: number;
  window?: number;
  /** Mean per-event difference (the candidate's or promoted student's NDCG@10 minus the other's) and its standard error. */
  difference?: number;
  standardError?: number;
}

export interface OnlineLoopHooks {
  onDecision?: (decision: Decision) => void;
  /** Another student serves (promotion or rollback). */
  onServe?: (student: OnlineModel, decision: Decision) => void;
}

/** Per-event NDCG@10 of the serving student and of the shadow over a gate or a watch, with what each event was. */
class Window {
  readonly users: string[] = [];
  readonly serving: number[] = [];
  readonly other: number[] = [];
  /** Both models had a row for the event's item before they learned it. */
  readonly known: boolean[] = [];
  get count(): number {
    return this.users.length;
  }
  add(user: string, serving: number, other: number, known: boolean): void {
    this.users.push(user);
    this.serving.push(serving);
    this.other.push(other);
    this.known.push(known);
  }
}

/** The paired comparison of the informative events of a window (difference: the shadow's NDCG@10 minus the serving one's). */
interface Evidence {
  informative: number;
  users: number;
  window: number;
  serving: number;
  other: number;
  difference: number;
  standardError: number;
  /** No informative event had different figures for the two models. */
  tie: boolean;
  /** Enough informative events and users for a decision. */
  sufficient: boolean;
}

type Phase =
  | { kind: "idle" }
  | { kind: "gate"; candidate: OnlineModel; window: Window; reason: string }
  | { kind: "watch"; previous: OnlineModel; window: Window };

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
  /** The serving student's prequential hits and NDCG@10 since takeQuality() last read them. */
  private quality = { events: 0, hits: 0, ndcg: 0 };
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
    const holdout = options.gate?.holdout ?? d.gate.holdout;
    const window = options.watch?.window ?? d.watch.window;
    this.options = {
      batch: options.batch ?? d.batch,
      redistillEvery: options.redistillEvery ?? d.redistillEvery,
      drift:
        options.drift === false
          ? false
          : { window: options.drift?.window ?? d.drift.window, drop: options.drift?.drop ?? d.drift.drop },
      gate: {
        holdout,
        tolerance: options.gate?.tolerance ?? d.gate.tolerance,
        ...evidenceOptions(options.gate, holdout),
      },
      watch: {
        window,
        tolerance: options.watch?.tolerance ?? d.watch.tolerance,
        ...evidenceOptions(options.watch, window),
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
      ["gate.maxUserShare", this.options.gate.maxUserShare],
      ["watch.maxUserShare", this.options.watch.maxUserShare],
    ] as const) {
      if (!(value >= 0 && value <= 1)) throw new RangeError(`online: ${name} must be in [0, 1] (got ${value})`);
    }
    for (const [name, evidence, length] of [
      ["gate", this.options.gate, holdout],
      ["watch", this.options.watch, window],
    ] as const) {
      for (const key of ["minEvents", "minUsers"] as const) {
        if (!Number.isSafeInteger(evidence[key]) || evidence[key] < 1) {
          throw new RangeError(`online: ${name}.${key} must be a positive integer (got ${evidence[key]})`);
        }
      }
      if (!Number.isSafeInteger(evidence.maxEvents) || evidence.maxEvents < length) {
        throw new RangeError(`online: ${name}.maxEvents must be an integer ≥ the window (got ${evidence.maxEvents})`);
      }
      if (!(evidence.standardErrors >= 0 && Number.isFinite(evidence.standardErrors))) {
        throw new RangeError(
          `online: ${name}.standardErrors must be a finite number ≥ 0 (got ${evidence.standardErrors})`,
        );
      }
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

  /**
   * The serving student's prequential HR@10 and NDCG@10 over the events evaluated since the last call (a
   * window of the stream), and a fresh window started.
   */
  takeQuality(): { events: number; hr: number; ndcg: number } {
    const { events, hits, ndcg } = this.quality;
    this.quality = { events: 0, hits: 0, ndcg: 0 };
    return { events, hr: events > 0 ? hits / events : 0, ndcg: events > 0 ? ndcg / events : 0 };
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
   * Put a candidate through the gate: it shadows the serving student on the next `gate.holdout` events (more
   * if too few of them are informative) and serves only if it ranks the informative ones better, beyond
   * noise. Refused while another candidate is shadowing.
   */
  propose(candidate: OnlineModel, reason: string): void {
    if (this.phase.kind !== "idle") throw new Error(`online: cannot propose a candidate while in ${this.phase.kind}`);
    this.phase = { kind: "gate", candidate, window: new Window(), reason };
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
      const rank = rankOfFirst(this.serving.score(event.user, history, candidates));
      const served = ndcgAt10(rank);
      this.quality.events++;
      if (rank < 10) this.quality.hits++;
      this.quality.ndcg += served;
      this.observe(served);
      if (shadow && this.phase.kind !== "idle") {
        const other = ndcgAt10(rankOfFirst(shadow.score(event.user, shadow.recentItems(event.user), candidates)));
        const known = this.serving.itemRow(event.item) !== undefined && shadow.itemRow(event.item) !== undefined;
        this.phase.window.add(event.user, served, other, known);
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
    if (phase.kind === "gate" && phase.window.count >= this.options.gate.holdout) {
      this.decideGate(phase);
    } else if (phase.kind === "watch" && phase.window.count >= this.options.watch.window) {
      this.decideWatch(phase);
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

  /** Promote the candidate if it is better beyond noise on enough informative events; else discard it. */
  private decideGate(phase: Phase & { kind: "gate" }): void {
    const { tolerance, standardErrors, maxEvents } = this.options.gate;
    const e = weigh(phase.window, this.options.gate);
    // Too little evidence yet: keep shadowing while the window may grow.
    if (!e.sufficient && e.window < maxEvents) return;
    const margin = standardErrors * e.standardError - tolerance * e.serving;
    let rule: DecisionRule;
    let why: string;
    if (!e.sufficient) {
      rule = "uninformative";
      why = insufficient(e, this.options.gate);
    } else if (e.tie) {
      rule = "tie";
      why = `no informative event told the two apart (NDCG@10 ${fmt(e.other)} = ${fmt(e.serving)})`;
    } else if (e.difference <= 0) {
      rule = "not-better";
      why = `NDCG@10 ${fmt(e.other)} ≤ serving ${fmt(e.serving)}`;
    } else if (e.difference <= margin) {
      rule = "noise";
      why = `NDCG@10 ${fmt(e.other)} vs serving ${fmt(e.serving)}: gain ${fmt(e.difference)} ≤ margin ${fmt(margin)} (${standardErrors} × SE ${fmt(e.standardError)}${tolerance ? ` − ${pct(tolerance)} of serving` : ""})`;
    } else {
      rule = "better";
      why = `NDCG@10 ${fmt(e.other)} > serving ${fmt(e.serving)}: gain ${fmt(e.difference)} > margin ${fmt(margin)} (${standardErrors} × SE ${fmt(e.standardError)}${tolerance ? ` − ${pct(tolerance)} of serving` : ""})`;
    }
    const decision: Decision = {
      kind: rule === "better" ? "promote" : "discard",
      at: this.events,
      reason: `candidate (${phase.reason}) ${why}; ${evidenceText(e)}`,
      ...figures(e, rule),
    };
    if (rule === "better") {
      const previous = this.serving;
      this.serving = phase.candidate;
      this.phase = { kind: "watch", previous, window: new Window() };
      this.resetDrift();
      this.serve(decision);
    } else {
      this.phase = { kind: "idle" };
      this.record(decision);
    }
  }

  /** Roll back if the promoted student does worse, beyond tolerance and noise, on enough informative events. */
  private decideWatch(phase: Phase & { kind: "watch" }): void {
    const { tolerance, standardErrors, maxEvents } = this.options.watch;
    // The window's shadow is the replaced student: the difference that matters is the promoted one's gain.
    const weighed = weigh(phase.window, this.options.watch);
    const e = { ...weighed, difference: -weighed.difference };
    if (!e.sufficient && e.window < maxEvents) return;
    const floor = e.other * (1 - tolerance);
    const margin = standardErrors * e.standardError;
    let rule: DecisionRule;
    let why: string;
    if (!e.sufficient) {
      // It passed the gate on informative events: without evidence against it, it stays.
      rule = "uninformative";
      why = insufficient(e, this.options.watch);
    } else if (e.serving < floor && -e.difference > margin) {
      rule = "worse";
      why = `promoted student's live NDCG@10 ${fmt(e.serving)} < ${fmt(floor)} (replaced student ${fmt(e.other)} − ${pct(tolerance)}), loss ${fmt(-e.difference)} > margin ${fmt(margin)} (${standardErrors} × SE)`;
    } else if (e.serving < floor) {
      rule = "noise";
      why = `promoted student's live NDCG@10 ${fmt(e.serving)} < ${fmt(floor)}, but the loss ${fmt(-e.difference)} ≤ margin ${fmt(margin)} (${standardErrors} × SE)`;
    } else {
      rule = "not-worse";
      why = `promoted student's live NDCG@10 ${fmt(e.serving)} ≥ ${fmt(floor)} (replaced student ${fmt(e.other)} − ${pct(tolerance)})`;
    }
    this.phase = { kind: "idle" };
    const decision: Decision = {
      kind: rule === "worse" ? "rollback" : "confirm",
      at: this.events,
      reason: `${why}; ${evidenceText(e)}`,
      ...figures(e, rule),
    };
    if (rule === "worse") {
      this.serving = phase.previous;
      this.resetDrift();
      this.serve(decision);
    } else {
      this.record(decision);
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

function evidenceOptions(given: EvidenceOptions | undefined, length: number): Required<EvidenceOptions> {
  const d = LOOP_DEFAULTS.evidence;
  return {
    minEvents: given?.minEvents ?? Math.max(1, Math.ceil(length / 4)),
    minUsers: given?.minUsers ?? d.minUsers,
    maxUserShare: given?.maxUserShare ?? d.maxUserShare,
    standardErrors: given?.standardErrors ?? d.standardErrors,
    maxEvents: given?.maxEvents ?? 4 * length,
  };
}

/**
 * The paired comparison over a window's informative events: those whose item both models knew, from users
 * who are not flooders (more than `maxUserShare` of the window's events).
 */
function weigh(window: Window, options: Required<EvidenceOptions>): Evidence {
  const perUser = new Map<string, number>();
  for (const user of window.users) perUser.set(user, (perUser.get(user) ?? 0) + 1);
  const limit = options.maxUserShare * window.count;
  const users = new Set<string>();
  let n = 0;
  let serving = 0;
  let other = 0;
  let sum = 0;
  let squares = 0;
  let tie = true;
  for (let k = 0; k < window.count; k++) {
    const user = window.users[k]!;
    if (!window.known[k] || perUser.get(user)! > limit) continue;
    const s = window.serving[k]!;
    const o = window.other[k]!;
    users.add(user);
    n++;
    serving += s;
    other += o;
    sum += o - s;
    squares += (o - s) ** 2;
    if (o !== s) tie = false;
  }
  const mean = n ? sum / n : 0;
  // The sample variance of the differences; the standard error of their mean.
  const variance = n > 1 ? Math.max(0, (squares - n * mean * mean) / (n - 1)) : 0;
  return {
    informative: n,
    users: users.size,
    window: window.count,
    serving: n ? serving / n : 0,
    other: n ? other / n : 0,
    difference: mean,
    standardError: n ? Math.sqrt(variance / n) : 0,
    tie,
    sufficient: n >= options.minEvents && users.size >= options.minUsers,
  };
}

function insufficient(e: Evidence, options: Required<EvidenceOptions>): string {
  return `too little evidence in ${e.window} events: ${e.informative} informative events (need ${options.minEvents}) from ${e.users} users (need ${options.minUsers})`;
}

function evidenceText(e: Evidence): string {
  return `${e.informative} informative events of ${e.window}, ${e.users} users`;
}

function figures(e: Evidence, rule: DecisionRule): Partial<Decision> {
  return {
    serving: e.serving,
    other: e.other,
    rule,
    informative: e.informative,
    users: e.users,
    window: e.window,
    difference: e.difference,
    standardError: e.standardError,
  };
}

function ndcgAt10(rank: number): number {
  return rank < 10 ? 1 / Math.log2(rank + 2) : 0;
}

function fmt(v: number): string {
  return v.toFixed(4);
}

function pct(v: number): string {
  return `${+(v * 100).toFixed(2)}%`;
}
