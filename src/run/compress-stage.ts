/**
 * The compression stage: the best student (by validation) compressed step by step within the budget
 * (compression.ts), with fine-tuning by listwise distillation from the teacher's soft labels when there
 * are any; and the hooks that connect a compression schedule to the prepared data.
 */
import { availableParallelism } from "node:os";
import type { SoftLabels } from "../distill/soft-labels.js";
import { compress, describeStep, parseSteps, type CompressOptions } from "./compression.js";
import { METHOD_PRESETS, type TrainSettings } from "./config.js";
import type { PreparedData } from "./data.js";
import { evaluateModel, profile, validator, type EvaluationSettings } from "./evaluation.js";
import { round, type PipelineLog } from "./log.js";
import type { StageContext, TrainedModel } from "./record.js";
import { compressionRow } from "./summary.js";

import { trainModel } from "./training.js";

/** Compress and record the best student, when the config asks for compression. */
export async function compressionStage(
  stage: StageContext,
  teacher: TrainedModel,
  softLabels: SoftLabels | undefined,
): Promise<void> {
  const { config, prepared, record, common, log } = stage;
  const compression = config.compression;
  if (!compression) return;
  // Shipped: the student that ranks best on validation (test is kept for reporting), whatever its method.
  const ranked = [...record.students].sort((a, b) => b.valid - a.valid);
  const chosen = ranked[0]!;
  log.info(
    {
      model: chosen.name,
      validNDCG10: round(chosen.valid),
      others: ranked.slice(1).map((s) => ({ model: s.name, validNDCG10: round(s.valid) })),
    },
    "student to ship (best by validation NDCG@10)",
  );
  const steps = parseSteps(compression.steps.join(","), compression.fineTuneEpochs);
  log.info({ model: chosen.name, steps: steps.map(describeStep), budget: compression.budget }, "compressing");
  const compressed = await compress({
    spec: chosen.spec,
    model: chosen.model,
    steps,
    budget: compression.budget,
    onExceed: compression.onExceed,
    ...compressionHooks(prepared, {
      evaluation: common.evaluation,
      seed: common.seed,
      threads: common.threads,
      ...(softLabels ? { softLabels } : {}),
      settings: { ...config.student.train, lr: compression.lr },
      log,
      progress: common.progress ?? false,
    }),
    log: (r) => log.info({ model: chosen.name, ...compressionRow(r) }, "compression step"),
  });
  record.save({
    name: `${chosen.name}-compressed`,
    role: "compressed",
    model: compressed.model,
    spec: compressed.spec,
    result: { bestMetrics: { "NDCG@10": compressed.final.validation }, history: [] },
    lineage: {
      teacher: teacher.manifest.id,
      data: config.data,
      seed: config.seed,
      compressedFrom: chosen.name,
      compression: compressed.steps.map(compressionRow),
    },
    ...(chosen.method ? { method: chosen.method } : {}),
    teacher: teacher.model,
    compressed,
  });
}

/**
 * What a compression schedule needs from the data: quality (validation NDCG@10 and test metrics),
 * top-10 latency, and fine-tuning — listwise distillation from `softLabels`, or the hard labels alone
 * without them — that starts from the model and re-applies the schedule's constraint every epoch.
 */
export function compressionHooks(
  prepared: PreparedData,
  options: {
    evaluation: EvaluationSettings;
    seed: number;
    threads?: number;
    softLabels?: SoftLabels;
    settings: Omit<TrainSettings, "epochs">;
    log?: PipelineLog;
    progress?: boolean;
  },
): Pick<CompressOptions, "evaluate" | "latency" | "fineTune"> {
  const { evaluation, seed, softLabels } = options;
  const validate = validator(prepared, evaluation, seed);
  return {
    evaluate: (model) => ({
      validation: validate(model)["NDCG@10"]!,
      test: evaluateModel(model, prepared.testSet, evaluation, seed),
    }),
    latency: (model) => profile(model, prepared.context.numUsers).latencyMs,
    fineTune: async (state, epochs, constrain) =>
      (
        await trainModel(
          prepared,
          state.spec,
          { ...options.settings, epochs },
          {
            name: "fine-tune",
            seed,
            evaluation,
            threads: options.threads ?? availableParallelism(),
            weights: softLabels ? METHOD_PRESETS.listwise! : { hard: 1 },
            ...(softLabels ? { softLabels } : {}),
            initial: state.model,
            constrain,
            ...(options.log ? { log: options.log } : {}),
            progress: options.progress ?? false,
          },
        )
      ).model,
  };
}
