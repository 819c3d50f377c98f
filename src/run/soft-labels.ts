/**
 * The soft-label stage: the best teacher's ranked lists for every user with train interactions (fewer
 * sampled negatives when the catalogue is too small), reused from the run's cache while still valid.
 */
import { mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { needsSoftLabels } from "../distill/program.js";
import { loadOrGenerate, modelFingerprint } from "../distill/soft-label-cache.js";
import {
  generateEnsembleSoftLabels,
  generateSoftLabels,
  type SoftLabelOptions,
  type SoftLabels,
} from "../distill/soft-labels.js";
import type { Recommender } from "../models/recommender.js";
import type { ConsensusKind } from "../distill/soft-labels.js";
import type { PipelineConfig } from "./config.js";
import type { PreparedData } from "./data.js";
import { silent, type PipelineLog } from "./log.js";

/** Soft-label settings (see PipelineConfig.distillation.softLabels). */
export interface SoftLabelSettings {
  negatives: number;
  topK: number;
  positivesPerUser: number;
}

/** The teachers soft labels come from: one, or several whose consensus is taken (ensemble distillation). */
export type LabelTeachers = Recommender | { ensemble: Recommender[]; consensus: ConsensusKind };

/**
 * The most sampled negatives per soft-label list (at most `requested`) that every user can get: the
 * catalogue minus the user's train items, the top-K and one spare item, for the user who has seen most.
 */
export function feasibleLabelNegatives(prepared: PreparedData, topK: number, requested: number): number {
  let maxSeen = 0;
  for (let u = 0; u < prepared.context.numUsers; u++) maxSeen = Math.max(maxSeen, prepared.trainSeen.count(u));
  return Math.max(0, Math.min(requested, prepared.context.numItems - maxSeen - topK - 1));
}

/** Soft-label options for every user with train interactions; fewer negatives when the catalogue is too small. */
export function softLabelOptions(
  prepared: PreparedData,
  settings: SoftLabelSettings,
  options: { seed: number; tasks?: boolean },
): SoftLabelOptions {
  const { context, trainSeen } = prepared;
  return {
    users: Int32Array.from({ length: context.numUsers }, (_, u) => u).filter((u) => trainSeen.count(u) > 0),
    seen: trainSeen,
    positivesPerUser: settings.positivesPerUser,
    negatives: feasibleLabelNegatives(prepared, settings.topK, settings.negatives),
    topK: settings.topK,
    seed: options.seed,
    numItems: context.numItems,
    tasks: options.tasks ?? false,
  };
}

/** A teacher's (or an ensemble's) soft labels, reused from (or saved to) `cachePath` when given and still valid for them. */
export function teacherSoftLabels(
  teacher: LabelTeachers,
  labelOptions: SoftLabelOptions,
  options: { cachePath?: string; log?: PipelineLog; requestedNegatives?: number } = {},
): SoftLabels {
  const log = options.log ?? silent;
  if (options.requestedNegatives !== undefined && labelOptions.negatives < options.requestedNegatives) {
    log.warn(
      { requested: options.requestedNegatives, used: labelOptions.negatives },
      "the catalogue is too small for that many soft-label negatives per user: using fewer",
    );
  }
  const models = "ensemble" in teacher ? teacher.ensemble : [teacher];
  for (const model of models) model.eval();
  const generate = () =>
    "ensemble" in teacher
      ? generateEnsembleSoftLabels(teacher.ensemble, labelOptions, teacher.consensus)
      : generateSoftLabels(teacher, labelOptions);
  if (!options.cachePath) {
    const labels = generate();
    log.info({ rows: labels.users.length }, "soft labels generated");
    return labels;
  }
  mkdirSync(dirname(options.cachePath), { recursive: true });
  const meta = {
    teacher: "ensemble" in teacher ? teacher.ensemble.map(modelFingerprint) : modelFingerprint(teacher),
    ...("ensemble" in teacher ? { consensus: teacher.consensus } : {}),
    users: labelOptions.users.length,
    positivesPerUser: labelOptions.positivesPerUser,
    negatives: labelOptions.negatives,
    topK: labelOptions.topK,
    seed: labelOptions.seed,
    numItems: labelOptions.numItems,
    tasks: labelOptions.tasks ?? false,
  };
  const cached = loadOrGenerate(options.cachePath, meta, generate);
  log.info({ path: options.cachePath, cached: cached.cached, reason: cached.reason }, "soft labels");
  return cached.labels;
}

/** What the soft-label stage gives the students: the list options, and the labels when any consumer needs them. */
export interface SoftLabelStage {
  options: SoftLabelOptions;
  labels?: SoftLabels;
}

/**
 * The soft-label stage of a run: labels are generated (or read from `cacheDir`) only when a method, the
 * assistant chain or compression's fine-tuning reads them; from the best teacher, or with
 * `softLabels.ensemble` from the consensus of the named teachers among `teachers` (default all).
 */
export function softLabelStage(
  config: PipelineConfig,
  prepared: PreparedData,
  teacher: { name: string; model: Recommender },
  cacheDir: string,
  log: PipelineLog = silent,
  teachers: readonly { name: string; model: Recommender }[] = [teacher],
): SoftLabelStage {
  const methods = config.distillation.methods;
  const settings = config.distillation.softLabels;
  const needed =
    methods.some((m) => needsSoftLabels(m.weights)) ||
    !!config.distillation.assistant ||
    (config.compression?.fineTuneEpochs ?? 0) > 0;
  const options = softLabelOptions(prepared, settings, {
    seed: config.seed,
    tasks: methods.some((m) => (m.weights.multiTask ?? 0) > 0),
  });
  if (!needed) return { options };
  const { ensemble } = settings;
  const members = ensemble
    ? (ensemble.teachers ?? teachers.map((t) => t.name)).map((name) => {
        const member = teachers.find((t) => t.name === name);
        if (!member) throw new Error(`soft labels: the ensemble's teacher "${name}" was not trained in this run`);
        return member;
      })
    : [teacher];
  const source: LabelTeachers = ensemble
    ? { ensemble: members.map((m) => m.model), consensus: ensemble.consensus }
    : teacher.model;
  const cacheName = ensemble ? `ensemble-${ensemble.consensus}-${members.map((m) => m.name).join("+")}` : teacher.name;
  if (ensemble)
    log.info({ teachers: members.map((m) => m.name), consensus: ensemble.consensus }, "ensemble soft labels");
  const labels = teacherSoftLabels(source, options, {
    log,
    requestedNegatives: settings.negatives,
    ...(settings.cache ? { cachePath: join(cacheDir, `${cacheName}.soft`) } : {}),
  });
  return { options, labels };
}
