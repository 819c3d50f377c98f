/**
 * What a pipeline run records of its models (summary.json): the summary's types, the prefixes of its
 * metric keys, and the atomic write both the summary and the report use.
 */
import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { writeFileAtomic } from "../engine/container.js";
import type { StepReport } from "./compression.js";

/**
 * Prefix of full-ranking metrics in `RunSummary` models' metrics ("full:NDCG@20"), beyond-accuracy ones included
 * ("full:Coverage@10"); sampled ones have none.
 */
export const FULL_RANKING_PREFIX = "full:";
/** The beyond-accuracy metrics of the full ranking's top-k lists, each reported at every k ("full:Coverage@10"). */
export const BEYOND_ACCURACY_METRICS = ["Coverage", "Gini", "LongTailShare", "Novelty", "LongTailNDCG"] as const;
/** Prefix of per-segment sampled metrics: "segment:<segment>:<metric>" ("segment:cold users:NDCG@10"). */
export const SEGMENT_PREFIX = "segment:";
/** Prefix of a student's fidelity to its teacher ("fidelity:overlap@10", "fidelity:kendall"). */
export const FIDELITY_PREFIX = "fidelity:";

/** The role a model plays in a run. */
export type ModelRole = "teacher" | "assistant" | "student" | "distilled" | "compressed";

/** One step of a compressed model's schedule (compression.ts StepReport, as recorded). */
export interface CompressionRow {
  step: string;
  status: "start" | "kept" | "rolled back" | "skipped";
  /** weights.bin bytes after the step. */
  bytes: number;
  validNDCG10: number;
  testNDCG10: number | null;
  latencyMs: number;
  note: string;
}

/** One epoch of a model's training. */
export interface HistoryPoint {
  epoch: number;
  loss: number;
  /** Validation metrics ("NDCG@10", …). */
  metrics: Record<string, number>;
}

/** Everything the run learned about one model. */
export interface ModelSummary {
  name: string;
  role: ModelRole;
  /** Distillation method (students). */
  method?: string;
  /**
   * Test metrics: sampled ("NDCG@10"), full ranking ("full:NDCG@10") and beyond accuracy ("full:Coverage@10",
   * "full:Gini@10", "full:LongTailShare@10", "full:Novelty@10", "full:LongTailNDCG@10"), per segment ("segment:cold users:NDCG@10"),
   * per task head ("main:AUC", "conversion:LogLoss") and fidelity to the teacher ("fidelity:overlap@10").
   */
  metrics: Record<string, number>;
  parameters: number;
  /** Parameter bytes in memory (float32). */
  bytes: number;
  /** Bytes of the saved weights.bin (smaller than `bytes` once compressed). */
  fileBytes?: number;
  flopsPerItem: number;
  /** Median latency of one request (score the catalogue + top-K), milliseconds. */
  latencyMs: number;
  history: HistoryPoint[];
  /** The compression steps that produced a compressed model. */
  compression?: CompressionRow[];
  /** The saved artefact's directory. */
  artefact?: string;
}

/**
 * A reference ranker evaluated beside the models with the same protocol and metrics: no training, no artefact
 * (the popularity ranker, evaluation.ts popularityReference).
 */
export interface ReferenceSummary {
  name: string;
  /** What it recommends, in words. */
  description: string;
  /** Test metrics, keyed as a model's (no task heads, no fidelity). */
  metrics: Record<string, number>;
}

/** What a pipeline run produced (written as summary.json, rendered by renderReport). */
export interface RunSummary {
  name: string;
  /** ISO 8601. */
  createdAt: string;
  dataset: { name: string; users: number; items: number; interactions: number };
  /** How models were evaluated, in words. */
  protocol: string;
  models: ModelSummary[];
  /** Reference rankers, apart from `models` (which are all trained and saved). */
  references?: ReferenceSummary[];
  /** Models whose training was stopped as a failure (diverged, or learning nothing), with the reason. */
  failures?: { model: string; reason: string; epoch: number; message: string }[];
}

/** A compression step as the summary, the report and the artefact's lineage record it. */
export function compressionRow(r: StepReport): CompressionRow {
  return {
    step: r.step,
    status: r.status,
    bytes: r.bytes,
    validNDCG10: r.validation,
    testNDCG10: r.test["NDCG@10"] ?? null,
    latencyMs: r.latencyMs,
    note: r.note,
  };
}

/** Write `text` to `path` atomically and durably (engine/container.ts writeFileAtomic); parent directories are created. */
export function writeTextAtomic(path: string, text: string): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomic(path, new TextEncoder().encode(text));
}

/** Write a run summary as summary.json (pretty-printed, atomically). */
export function writeSummary(path: string, summary: RunSummary): void {
  writeTextAtomic(path, `${JSON.stringify(summary, null, 2)}\n`);
}
