/**
 * The record of a run: where it writes, and how each trained model is evaluated on test, measured against
 * the teacher, profiled, saved as an artefact and summarised — the step every stage ends with.
 */
import { join, resolve } from "node:path";
import { saveArtefact, type ArtefactManifest } from "../models/artefact.js";
import type { Recommender } from "../models/recommender.js";
import type { ModelSpec } from "../models/zoo.js";
import type { TrainResult } from "../train/trainer.js";
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

/** One model to record. */
export interface RecordEntry {
  name: string;
  role: ModelSummary["role"];
  model: Recommender;
  spec: ModelSpec;
  result: Pick<TrainResult, "bestMetrics" | "history"> & { bestEpoch?: number };
  lineage: Record<string, unknown>;
  method?: string;
  /** The teacher the model learnt from, directly or through the assistant (fidelity is measured to it). */
  teacher?: Recommender;
  /** The compression that produced the model: its final test metrics stand, its storage is saved, its steps recorded. */
  compressed?: CompressionResult;
}

/** Every model a run saved, and the students among them. */
export class RunRecord {
  readonly models: ModelSummary[] = [];
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

  /** Evaluate, profile and save one model; returns its artefact's manifest. */
  save(entry: RecordEntry): ArtefactManifest {
    const { config, paths, prepared, evaluation, log } = this.run;
    const { name, role, model, result, method, compressed } = entry;
    const { dataset, testSet, context } = prepared;
    const seed = config.seed;
    const metrics = {
      // Compression evaluated its final state with the same protocol already.
      ...(compressed ? compressed.final.test : evaluateModel(model, testSet, evaluation, seed)),
      ...(entry.teacher ? fidelityMetrics(entry.teacher, model, testSet, seed) : {}),
    };
    const sized = profile(model, context.numUsers);
    const dir = join(paths.models, name);
    const validation = Object.fromEntries(Object.entries(result.bestMetrics).map(([k, v]) => [`valid:${k}`, v]));
    const manifest = saveArtefact(dir, {
      model,
      spec: entry.spec,
      users: dataset.users,
      items: dataset.items,
      features: datasetFeatures(dataset),
      metrics: {
        ...metrics,
        ...validation,
        ...(result.bestEpoch === undefined ? {} : { bestEpoch: result.bestEpoch }),
      },
      lineage: { ...entry.lineage, ...(method ? { method } : {}), role, run: config.name, dataset: dataset.name },
      ...(compressed ? { storage: compressed.storage } : {}),
    });
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
