/**
 * Model profiles for reports and benchmarks: size, FLOPs per scored item and single-request latency of
 * scoring the whole catalogue and picking the top 10.
 */
import { performance } from "node:perf_hooks";
import type { Recommender } from "../models/recommender.js";
import { topK } from "./metrics.js";

/** What {@link profileModel} needs of a model (any Recommender has it). */
export type ProfiledModel = Pick<Recommender, "parameterCount" | "parameterBytes" | "flopsPerItem" | "scorer">;

/** Options of {@link profileModel}. */
export interface ProfileOptions {
  /** Users to query, cycled through (at least one). */
  users: readonly number[];
  /** Timed requests (default 200). */
  reps?: number;
  /** Untimed requests first, so JIT compilation and caches settle (default 20). */
  warmup?: number;
  /** Size of the top-K selection after scoring (default 10). */
  k?: number;
}

/** Latency summary in milliseconds. */
export interface LatencySummary {
  p50: number;
  p99: number;
  mean: number;
}

/** A model's size, cost and latency. */
export interface ModelProfile {
  parameters: number;
  bytes: number;
  flopsPerItem: number;
  /** One request = `scorer.scoreAll({ user })` plus the top-K selection, run one at a time. */
  latencyMs: LatencySummary;
}

/** Profiles a model; the scorer is built once, before timing, as a server would. */
export function profileModel(model: ProfiledModel, options: ProfileOptions): ModelProfile {
  const { users, reps = 200, warmup = 20, k = 10 } = options;
  if (users.length === 0) throw new RangeError("profileModel: need at least one user");
  if (!(reps >= 1)) throw new RangeError(`profileModel: reps must be ≥ 1, got ${reps}`);
  const scorer = model.scorer();
  const request = (r: number) => topK(scorer.scoreAll({ user: users[r % users.length]! }), k);
  const times = new Float64Array(reps);
  try {
    for (let r = 0; r < warmup; r++) request(r);
    for (let r = 0; r < reps; r++) {
      const start = performance.now();
      request(r);
      times[r] = performance.now() - start;
    }
  } finally {
    scorer.dispose?.();
  }
  return {
    parameters: model.parameterCount(),
    bytes: model.parameterBytes(),
    flopsPerItem: model.flopsPerItem(),
    latencyMs: summariseLatencies(times),
  };
}

/** p50, p99 (nearest rank) and mean of a list of durations. */
export function summariseLatencies(times: ArrayLike<number>): LatencySummary {
  if (times.length === 0) return { p50: NaN, p99: NaN, mean: NaN };
  const sorted = Float64Array.from(times).sort();
  const quantile = (q: number) => sorted[Math.min(sorted.length - 1, Math.ceil(q * sorted.length) - 1)]!;
  let total = 0;
  for (const t of sorted) total += t;
  return { p50: quantile(0.5), p99: quantile(0.99), mean: total / sorted.length };
}
