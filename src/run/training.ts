/**
 * Training one model of a run: plain BPR, or distilling when the method's weights ask for it, with early
 * stopping on the sampled validation protocol and one log line per epoch.
 */
import { availableParallelism } from "node:os";
import { UniformSampler } from "../data/sampling.js";
import { needsSoftLabels, needsTeacher } from "../distill/program.js";
import { distill } from "../distill/distill.js";
import type { SoftLabels } from "../distill/soft-labels.js";
import type { Recommender } from "../models/recommender.js";
import { isSequenceKind, type ModelSpec } from "../models/zoo.js";
import type { SequenceLossOptions } from "../train/sequence.js";
import type { TrainResult } from "../train/trainer.js";
import type { MethodWeights, TrainSettings } from "./config.js";
import type { PreparedData } from "./data.js";
import { randomNdcgAt, validator, type EvaluationSettings } from "./evaluation.js";
import { round, roundAll, silent, type PipelineLog } from "./log.js";

/** A sequence model's next-item loss from its train settings (default the paper's "bce"). */
function sequenceOptions(settings: TrainSettings): SequenceLossOptions {
  return {
    kind: settings.sequenceLoss ?? "bce",
    ...(settings.sequenceNegatives === undefined ? {} : { negatives: settings.sequenceNegatives }),
    ...(settings.sequenceSampler === undefined ? {} : { sampler: settings.sequenceSampler }),
  };
}

/**
 * Train one model on the prepared data: plain BPR, or distilling when the weights ask for it (list terms
 * from `softLabels`, the hint term from `teacher`).
 */
export async function trainModel(
  prepared: PreparedData,
  spec: ModelSpec,
  settings: TrainSettings,
  options: {
    name: string;
    seed: number;
    evaluation: EvaluationSettings;
    threads?: number;
    weights?: MethodWeights;
    softLabels?: SoftLabels;
    teacher?: Recommender;
    log?: PipelineLog;
    progress?: boolean;
    /** Fine-tune this model (built from `spec`) instead of training from scratch (see TrainOptions). */
    initial?: Recommender;
    constrain?: (model: Recommender) => void;
  },
): Promise<TrainResult> {
  const log = options.log ?? silent;
  const weights = options.weights ?? { hard: 1 };
  const progress = (done: number, detail?: Record<string, number>) =>
    log.progress?.({ task: options.name, done, total: settings.epochs, unit: "epoch", ...(detail ? { detail } : {}) });
  progress(0);
  return distill({
    model: spec,
    context: prepared.context,
    data: prepared.samples,
    weights,
    ...(isSequenceKind(spec.kind) ? { sequence: sequenceOptions(settings) } : {}),
    ...(needsSoftLabels(weights) ? { softLabels: options.softLabels } : {}),
    ...(needsTeacher(weights) ? { teacher: options.teacher } : {}),
    epochs: settings.epochs,
    batchSize: settings.batchSize,
    lr: settings.lr,
    ...(settings.schedule === undefined ? {} : { schedule: settings.schedule }),
    ...(settings.weightDecay === undefined ? {} : { weightDecay: settings.weightDecay }),
    ...(settings.tableUpdates === undefined ? {} : { tableUpdates: settings.tableUpdates }),
    ...(settings.lossReduction === undefined ? {} : { lossReduction: settings.lossReduction }),
    ...(settings.l2 === undefined ? {} : { l2: settings.l2 }),
    ...(settings.betas === undefined ? {} : { betas: settings.betas }),
    optimizer: settings.optimizer,
    patience: settings.patience,
    threads: options.threads ?? availableParallelism(),
    seed: options.seed,
    sampler: new UniformSampler(prepared.trainSeen, prepared.context.numItems, { seed: options.seed }),
    validate: validator(prepared, options.evaluation, options.seed),
    ...(settings.validateEvery === undefined ? {} : { validateEvery: settings.validateEvery }),
    monitor: "NDCG@10",
    randomMonitor: randomNdcgAt(10, options.evaluation.validationNegatives + 1),
    // A log that draws progress draws the bar; the trainer's own would fight it for the line.
    progress: (options.progress ?? false) && !log.progress,
    ...(options.initial ? { initial: options.initial } : {}),
    ...(options.constrain ? { constrain: options.constrain } : {}),
    onEpoch: (r) => {
      progress(r.epoch, {
        loss: r.loss,
        ...(r.metrics["NDCG@10"] === undefined ? {} : { "NDCG@10": r.metrics["NDCG@10"] }),
      });
      log.info(
        {
          model: options.name,
          epoch: r.epoch,
          loss: round(r.loss),
          lr: r.lr,
          ...roundAll(r.metrics),
          trainSeconds: round(r.seconds),
          validationSeconds: round(r.validationSeconds),
        },
        "epoch",
      );
    },
  });
}
