/**
 * The shape of bench/results/flagship.json, written by `npm run bench:flagship` (the default pipeline, one
 * run per seed) and read by `npm run docs:figures` for the README's figures of `npm start`.
 */
import type { ModelRole, RunSummary } from "../src/run/summary.js";
import type { Target } from "./common.js";

/** One metric of one model over the seeds. */
export interface MetricStats {
  mean: number;
  /** Sample standard deviation (n − 1; 0 for one seed). */
  sd: number;
  /** One value a seed, in the order of `FlagshipResult.seeds`. */
  values: number[];
}

/** One model of the run, over the seeds. */
export interface FlagshipModel {
  /** The model's name in the run ("sasrec", "student-none", "student-listwise", …). */
  name: string;
  role: ModelRole | "reference";
  /** Distillation method of a student ("none" for the student alone). */
  method?: string;
  /** Parameters. */
  params: number;
  /** Bytes of the saved weights.bin. */
  bytes: number;
  /**
   * Test metrics by key, full ranking unless named otherwise: "NDCG@10", "HR@10", "coverage@10", "gini@10",
   * "longTailShare@10", "novelty@10", "longTailNDCG@10", and "sampledNDCG@10" (the sampled protocol).
   */
  metrics: Record<string, MetricStats>;
}

/** One run of seed 0 on two threads. */
export interface TwoThreadRun {
  seconds: number;
  /** The largest relative difference of any model's NDCG@10 from its one-thread figure. */
  largestGap: number;
  /** The shipped (compressed) student's NDCG@10 over the student alone's. */
  shippedOverAlone: number;
  /** NDCG@10 of each model. */
  ndcg: Record<string, number>;
}

/** bench/results/flagship.json. */
export interface FlagshipResult {
  commit: string;
  /** ISO 8601. */
  date: string;
  seeds: number[];
  /** Training threads of every seed's run. */
  threads: number;
  /** Wall time of each seed's whole run, seconds. */
  runtimeSeconds: number[];
  /** Seed 0 again on two threads (as `npm start` runs on two cores), each run against the one-thread figures. */
  twoThreadRuns: TwoThreadRun[];
  /** Every model of the run, in the run's order. */
  models: FlagshipModel[];
  /** The popularity ranker, evaluated with the same protocol. */
  reference?: FlagshipModel;
  /** The model the run would ship, and why it was chosen. */
  shipped: { name: string; reason: string };
  targets: Target[];
  /** What `npm start` printed on two threads (its table and paths), without npm's own lines. */
  sampleOutput: string;
  /** Each seed's summary.json, in the order of `seeds`. */
  summaries: RunSummary[];
}
