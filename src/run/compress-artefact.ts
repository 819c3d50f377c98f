/**
 * Compress a model artefact: load it, its data and (for fine-tuning and fidelity) its teacher, run the
 * schedule, and save the result as an ordinary artefact whose lineage records every step. Fine-tuning
 * after pruning or factorisation distils from the teacher's soft labels (listwise KL) when there is a
 * teacher, and learns from the hard labels alone otherwise.
 */
import { resolve } from "node:path";
import type { DataConfig, TrainSettings } from "./config.js";
import { compressionHooks } from "./compress-stage.js";
import { loadData, prepareData, recordedData, sameIds } from "./data.js";
import { fidelityMetrics, type EvaluationSettings } from "./evaluation.js";
import type { PipelineLog } from "./log.js";
import { softLabelOptions, teacherSoftLabels, type SoftLabelSettings } from "./soft-labels.js";
import { compressionRow } from "./summary.js";
import {
  findTeacherBeside,
  loadArtefact,
  saveArtefact,
  type ArtefactManifest,
  type LoadedArtefact,
} from "../models/artefact.js";
import { compress, describeStep, type CompressionStep, type OnExceed, type StepReport } from "./compression.js";

export interface CompressArtefactOptions {
  /** The model artefact to compress (typically a distilled student). */
  model: string;
  /** Teacher artefact for fine-tuning and fidelity; default: the lineage's teacher beside the model, if any. */
  teacher?: string;
  /** Default: the data the model was trained on (its lineage). */
  data?: DataConfig;
  seed?: number;
  steps: readonly CompressionStep[];
  /** Largest relative validation NDCG@10 drop from the uncompressed model (default 0.02). */
  budget?: number;
  onExceed?: OnExceed;
  /** Where the compressed artefact goes. */
  out: string;
  /** Fine-tuning settings (epochs come from each step). */
  fineTune?: Partial<Omit<TrainSettings, "epochs">>;
  softLabels?: SoftLabelSettings & { cachePath?: string };
  evaluation?: EvaluationSettings;
  threads?: number;
  log?: PipelineLog;
  progress?: boolean;
}

/** A model's size and quality, for the report's first rows. */
export interface ModelRow {
  id: string;
  /** weights.bin bytes. */
  bytes: number;
  test: Record<string, number>;
  latencyMs: number;
}

export interface CompressArtefactResult {
  out: string;
  manifest: ArtefactManifest;
  /** The uncompressed teacher, when there is one. */
  teacher?: ModelRow;
  steps: StepReport[];
  /** The report of the saved state: the last step kept (or the start). */
  final: StepReport;
  /** Test metrics of the saved model (with fidelity to the teacher, when there is one). */
  metrics: Record<string, number>;
}

/** Evaluation defaults: the sampled protocol of the benchmarks (499 negatives), NDCG and HR at 10 and 20. */
export const COMPRESS_EVALUATION: EvaluationSettings = {
  negatives: 499,
  validationNegatives: 499,
  ks: [10, 20],
  fullRanking: false,
};

const DEFAULT_FINE_TUNE: Omit<TrainSettings, "epochs"> = {
  batchSize: 512,
  lr: 0.001,
  optimizer: "adam",
  patience: 2,
};

const DEFAULT_SOFT_LABELS: SoftLabelSettings = { negatives: 100, topK: 20, positivesPerUser: 1 };

const silent: PipelineLog = { info() {}, warn() {} };

/** Compress the artefact at `options.model` into `options.out`. */
export async function compressArtefact(options: CompressArtefactOptions): Promise<CompressArtefactResult> {
  const log = options.log ?? silent;
  const source = loadArtefact(options.model);
  const recorded = recordedData(source.manifest);
  if (!options.data && !recorded) {
    throw new Error(`${options.model}: the model does not record its data; give the data explicitly`);
  }
  const data = options.data ?? recorded!.data;
  const seed = options.seed ?? recorded?.seed ?? 0;
  const teacherDir = options.teacher ?? findTeacherBeside(options.model, source.manifest);
  const teacher = teacherDir ? loadArtefact(teacherDir) : undefined;
  const evaluation = options.evaluation ?? COMPRESS_EVALUATION;
  const budget = options.budget ?? 0.02;

  const dataset = await loadData(data, seed);
  for (const [name, artefact] of [
    ["model", source],
    ["teacher", teacher],
  ] as const) {
    if (artefact && (!sameIds(dataset.users, artefact.users) || !sameIds(dataset.items, artefact.items))) {
      throw new Error(`the data does not have the ${name}'s user and item ids: compress on the data it was trained on`);
    }
  }
  const prepared = prepareData(dataset);
  const settings = { ...DEFAULT_FINE_TUNE, ...options.fineTune };
  const needsFineTune = options.steps.some((s) => "fineTuneEpochs" in s && (s.fineTuneEpochs ?? 0) > 0);
  const labelSettings = options.softLabels ?? DEFAULT_SOFT_LABELS;
  const softLabels =
    needsFineTune && teacher
      ? teacherSoftLabels(teacher.model, softLabelOptions(prepared, labelSettings, { seed }), {
          log,
          requestedNegatives: labelSettings.negatives,
          ...(options.softLabels?.cachePath ? { cachePath: options.softLabels.cachePath } : {}),
        })
      : undefined;
  const hooks = compressionHooks(prepared, {
    evaluation,
    seed,
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(softLabels ? { softLabels } : {}),
    settings,
    log,
    progress: options.progress ?? false,
  });
  const teacherRow =
    teacher && describeModel(teacher, hooks.evaluate(teacher.model).test, hooks.latency(teacher.model));

  log.info(
    { model: source.manifest.id, teacher: teacher?.manifest.id, steps: options.steps.map(describeStep) },
    "compress",
  );
  const result = await compress({
    spec: source.manifest.spec,
    model: source.model,
    steps: options.steps,
    budget,
    onExceed: options.onExceed ?? "rollback",
    ...hooks,
    log: (r) => log.info(compressionRow(r), "compression step"),
  });

  const { final } = result;
  const metrics = {
    ...final.test,
    ...(teacher ? fidelityMetrics(teacher.model, result.model, prepared.testSet, seed) : {}),
  };
  const out = resolve(options.out);
  const manifest = saveArtefact(out, {
    model: result.model,
    spec: result.spec,
    users: source.users,
    items: source.items,
    features: source.features,
    storage: result.storage,
    metrics: { ...metrics, latencyMs: final.latencyMs },
    lineage: {
      ...source.manifest.lineage,
      compressedFrom: source.manifest.id,
      // The report travels with the model: size, quality and latency after every step.
      compression: result.steps.map(compressionRow),
      budget,
    },
  });
  return { out, manifest, ...(teacherRow ? { teacher: teacherRow } : {}), steps: result.steps, final, metrics };
}

function describeModel(artefact: LoadedArtefact, test: Record<string, number>, latencyMs: number): ModelRow {
  return { id: artefact.manifest.id, bytes: artefact.manifest.files["weights.bin"].bytes, test, latencyMs };
}
