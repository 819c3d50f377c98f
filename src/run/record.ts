/**
 * The record of a run: where it writes, and how each trained model is evaluated on test, measured against
 * the teacher, profiled, saved as an artefact and summarised — the step every stage ends with.
 */
import { join, resolve } from "node:path";
import { saveArtefact, type ArtefactManifest } from "../models/artefact.js";
import type { Recommender } from "../models/recommender.js";
import type { ModelSpec } from "../models/zoo.js";
import { TrainingFailure, type TrainingFailureReason, type TrainResult } from "../train/trainer.js";
import type { CompressionResult } from "./compression.js";
import type { PipelineConfig } from "./config.js";
import { datasetFeatures, type PreparedData } from "./data.js";
import { evaluateModel, fidelityMetrics, profile, type EvaluationSettings } from "./evaluation.js";
import { roundAll, type PipelineLog } from "./log.js";
import { compressionRow, type ModelSummary } from "./summary.js";

/** Where a run writes its outputs. */
export interface RunPaths {
  dir: string;
  models: string;
  softLabels: string;
  summary: string;
  report: string;
  /** The JSON log of a run started from a terminal (the lines there are for people). */
  log: string;
}

/** Where the run of `config` writes its outputs. */
export function pipelinePaths(config: PipelineConfig): RunPaths {
  const dir = resolve(config.output.dir);
  return {
    dir,
    models: join(dir, "models"),
    softLabels: join(dir, "soft-labels"),
    summary: join(dir, "summary.json"),
    report: join(dir, "report.html"),
    log: join(dir, "run.log"),
  };
}

/** A trained model's place in the run, as the teacher stage hands it on. */
export interface TrainedModel {
  name: string;
  model: Recommender;
  spec: ModelSpec;
  manifest: ArtefactManifest;
  /** Validation NDCG@10 at the best epoch (what teachers and students are chosen by). */
  valid: number;
  method?: string;
}

/** One model to record: a trained model and its place in the run. */
export interface RecordEntry extends Trained {
  name: string;
  role: ModelSummary["role"];
  method?: string;
}

/** A trained model to evaluate and save (see saveEvaluated). */
export interface Trained {
  model: Recommender;
  spec: ModelSpec;
  result: Pick<TrainResult, "bestMetrics" | "history"> & { bestEpoch?: number };
  lineage: Record<string, unknown>;
  /** The teacher the model learnt from, directly or through the assistant (fidelity is measured to it). */
  teacher?: Recommender;
  /** The compression that produced the model: its final test metrics stand, its storage is saved, its steps recorded. */
  compressed?: CompressionResult;
}

/**
 * Evaluate a trained model on test (and its fidelity to its teacher, when it has one), profile it and save
 * it as an artefact at `dir`: the artefact's metrics are the test metrics, the best epoch's validation
 * metrics ("valid:NDCG@10"), the best epoch and the median latency; its lineage adds the dataset's name.
 */
export function saveEvaluated(
  dir: string,
  prepared: PreparedData,
  trained: Trained,
  evaluation: EvaluationSettings,
  seed: number,
): { manifest: ArtefactManifest; metrics: Record<string, number>; sized: ReturnType<typeof profile> } {
  const { model, result, compressed } = trained;
  const { dataset, testSet, context } = prepared;
  const metrics = {
    // Compression evaluated its final state with the same protocol already.
    ...(compressed ? compressed.final.test : evaluateModel(model, testSet, evaluation, seed)),
    ...(trained.teacher ? fidelityMetrics(trained.teacher, model, testSet, seed) : {}),
  };
  const sized = profile(model, context.numUsers);
  const validation = Object.fromEntries(Object.entries(result.bestMetrics).map(([k, v]) => [`valid:${k}`, v]));
  const manifest = saveArtefact(dir, {
    model,
    spec: trained.spec,
    users: dataset.users,
    items: dataset.items,
    features: datasetFeatures(dataset),
    metrics: {
      ...metrics,
      ...validation,
      ...(result.bestEpoch === undefined ? {} : { bestEpoch: result.bestEpoch }),
      latencyMs: sized.latencyMs,
    },
    lineage: { ...trained.lineage, dataset: dataset.name },
    ...(compressed ? { storage: compressed.storage } : {}),
  });
  return { manifest, metrics, sized };
}

/** Every model a run saved, and the students among them. */
/** A model whose training was stopped as a failure (TrainingFailure), for the summary and the report. */
export interface TrainingFailureRecord {
  model: string;
  reason: TrainingFailureReason;
  epoch: number;
  message: string;
}

export class RunRecord {
  readonly models: ModelSummary[] = [];
  /** Models whose training failed; the run goes on without them. */
  readonly failures: TrainingFailureRecord[] = [];
  /** Students (alone or distilled), for compression to pick the best of. */
  readonly students: TrainedModel[] = [];

  constructor(
    private readonly run: {
      config: PipelineConfig;
      paths: RunPaths;
      prepared: PreparedData;
      evaluation: EvaluationSettings;
      log: PipelineLog;
    },
  ) {}

  /**
   * Run one model's training; a TrainingFailure (a run that diverged or learns nothing) is logged and recorded,
   * and undefined returned, so that the run goes on with the other models. Any other error propagates.
   */
  async guarded<T>(model: string, training: () => Promise<T>): Promise<T | undefined> {
    try {
      return await training();
    } catch (err) {
      if (!(err instanceof TrainingFailure)) throw err;
      this.run.log.warn({ model, reason: err.reason, epoch: err.epoch, message: err.message }, "training failed");
      this.failures.push({ model, reason: err.reason, epoch: err.epoch, message: err.message });
      return undefined;
    }
  }

  /** Evaluate, profile and save one model; returns its artefact's manifest. */
  save(entry: RecordEntry): ArtefactManifest {
    const { config, paths, prepared, evaluation, log } = this.run;
    const { name, role, model, result, method, compressed } = entry;
    const dir = join(paths.models, name);
    const lineage = { ...entry.lineage, ...(method ? { method } : {}), role, run: config.name };
    // Full ranking of a large model takes a while, with nothing else to show meanwhile.
    log.info({ model: name, fullRanking: evaluation.fullRanking }, "evaluating");
    const { manifest, metrics, sized } = saveEvaluated(dir, prepared, { ...entry, lineage }, evaluation, config.seed);
    if (role === "student" || role === "distilled") {
      this.students.push({
        name,
        model,
        spec: entry.spec,
        manifest,
        valid: result.bestMetrics["NDCG@10"] ?? -Infinity,
        ...(method ? { method } : {}),
      });
    }
    this.models.push({
      name,
      role,
      ...(method ? { method } : {}),
      metrics,
      ...sized,
      fileBytes: manifest.files["weights.bin"].bytes,
      history: result.history.map((h) => ({ epoch: h.epoch, loss: h.loss, metrics: h.metrics })),
      ...(compressed ? { compression: compressed.steps.map(compressionRow) } : {}),
      artefact: dir,
    });
    log.info({ model: name, role, ...roundAll(metrics), ...sized, artefact: dir }, "evaluated");
    return manifest;
  }
}

/** What every stage after the data reads: the config, the prepared data, the record, and shared settings. */
export interface StageContext {
  config: PipelineConfig;
  prepared: PreparedData;
  record: RunRecord;
  paths: RunPaths;
  /** What every training of the run shares. */
  common: { seed: number; evaluation: EvaluationSettings; threads: number; log: PipelineLog; progress?: boolean };
  log: PipelineLog;
}
