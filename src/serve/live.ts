/**
 * What the dashboard shows of a running server over time: a sample of the traffic every second (requests,
 * latency percentiles, events stored) kept for the last few minutes, and what a learner reports of online
 * learning (windows of prequential quality, decisions).
 */

/** One second (or so) of traffic. */
export interface TrafficSample {
  /** When the sample closed, ms since the epoch. */
  time: number;
  requestsPerSecond: number;
  /** Latency percentiles of the requests in the sample, ms (null: no request). */
  p50: number | null;
  p95: number | null;
  p99: number | null;
  /** Events stored per second (by any server sharing the store). */
  eventsPerSecond: number;
}

/** Prequential quality of the serving student over one window of live events: ranked first, learned after. */
export interface OnlineWindow {
  /** When the window closed, ms since the epoch. */
  time: number;
  /** Events the learner had learned from when it closed. */
  at: number;
  events: number;
  /** HR@10 and NDCG@10 of each event's item among sampled ones, averaged over the window. */
  hr: number;
  ndcg: number;
}

/** A decision of online learning, on the dashboard's time line. */
export interface OnlineDecisionPoint {
  time: number;
  at: number;
  /** "redistill", "promote", "discard", "rollback" or "confirm". */
  kind: string;
  reason: string;
  /** Mean NDCG@10 of the serving student and the other model behind the decision. */
  serving?: number;
  other?: number;
}

/** What a learner tells the dashboard. */
export interface OnlineStatus {
  /** "idle", "gate" (a candidate shadows the serving student) or "watch" (after a promotion). */
  state: string;
  /** Events learned from. */
  learned: number;
  /** Stored events not learned from yet. */
  lag: number;
  /** Why learning stopped, if it did. */
  error?: string;
  /** The latest windows and decisions, oldest first. */
  windows: OnlineWindow[];
  decisions: OnlineDecisionPoint[];
}

/** Latencies kept per sample at most: beyond it a reservoir keeps a uniform share of them. */
const MAX_LATENCIES = 10_000;

/** Per-second samples of the traffic, the last `capacity` of them. */
export class TrafficRecorder {
  private readonly samples: TrafficSample[] = [];
  private latencies: number[] = [];
  private requests = 0;
  private lastTime: number | undefined;
  private lastEvents: number | undefined;

  constructor(private readonly capacity = 300) {}

  /** A request was answered in `ms`. */
  request(ms: number): void {
    this.requests++;
    if (this.latencies.length < MAX_LATENCIES) this.latencies.push(ms);
    else {
      const k = Math.floor(Math.random() * this.requests);
      if (k < MAX_LATENCIES) this.latencies[k] = ms;
    }
  }

  /**
   * Close a sample at `time` with the store holding `storedEvents`; the first call only sets the start.
   * Rates are per second of the time since the previous call.
   */
  tick(time: number, storedEvents: number): TrafficSample | undefined {
    const last = this.lastTime;
    const lastEvents = this.lastEvents;
    this.lastTime = time;
    this.lastEvents = storedEvents;
    if (last === undefined || lastEvents === undefined || time <= last) {
      this.requests = 0;
      this.latencies = [];
      return undefined;
    }
    const seconds = (time - last) / 1000;
    const sorted = Float64Array.from(this.latencies).sort();
    const sample: TrafficSample = {
      time,
      requestsPerSecond: this.requests / seconds,
      p50: percentile(sorted, 0.5),
      p95: percentile(sorted, 0.95),
      p99: percentile(sorted, 0.99),
      // A store shared with other servers, or reopened, only grows; never a negative rate.
      eventsPerSecond: Math.max(0, storedEvents - lastEvents) / seconds,
    };
    this.requests = 0;
    this.latencies = [];
    this.samples.push(sample);
    if (this.samples.length > this.capacity) this.samples.shift();
    return sample;
  }

  /** The samples kept, oldest first. */
  series(): readonly TrafficSample[] {
    return this.samples;
  }
}

/** The nearest-rank percentile of sorted values (null when there are none). */
export function percentile(sorted: ArrayLike<number>, q: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[rank]!;
}
