/**
 * The training loop for teachers and students: epochs on every thread (engine/parallel.ts) of an
 * objective's program (program.ts), fresh negatives and a fresh sample order every epoch, an optional
 * learning-rate schedule stepped once per epoch, validation after each epoch, early stopping, and the best
 * epoch's parameters restored at the end. The default objective learns the hard labels (plain BPR with the
 * default weights, plus the extra heads' task labels for a multi-task model); distillation brings its own
 * (distill/distill.ts).
 */
import { availableParallelism } from "node:os";
import cliProgress from "cli-progress";
import { TrainingPool, type SharedData } from "../engine/parallel.js";
import { createSchedule, type ScheduleSpec } from "./schedule.js";
import { DataRng } from "../data/rng.js";
import { UniformSampler, type NegativeSampler } from "../data/sampling.js";
import type { ModelContext } from "../models/context.js";
import type { ModelSpec } from "../models/zoo.js";
import type { Recommender } from "../models/recommender.js";
import type { HardWeights } from "./losses.js";
import type { TableUpdates } from "../engine/optim.js";
import type { OptimizerKind } from "./optimizer.js";
import { hardObjective, type LossReduction, type Objective, type TrainConfig, type Trainer } from "./program.js";
import { redrawNegatives, sampleCount, type TrainingData } from "./training-data.js";

/** Options of {@link train}. */
export interface TrainOptions {
  /** The model to train (a fresh one is built from this spec on every thread, over shared memory). */
  model: ModelSpec;
  context: ModelContext;
  /** Samples from buildTrainingData; their negatives are redrawn in place before every epoch. */
  data: TrainingData;
  /**
   * The hard-label objective's weights (default {hard: 1}: plain BPR, and a multi-task model's extra heads
   * learn the task labels); shorthand for `objective: hardObjective(weights)`.
   */
  weights?: HardWeights;
  /** What to minimise, when not the hard labels (e.g. distillation's objective); not with `weights`. */
  objective?: Objective;
  epochs: number;
  /** Samples per optimiser step (default 1024). */
  batchSize?: number;
  /** Learning rate (default 1e-3); the base lr of `schedule`. */
  lr?: number;
  /** How the lr changes, stepped once per epoch (stepSize, warmupSteps in epochs); default constant. */
  schedule?: ScheduleSpec;
  /** Weight decay (OptimizerSettings.weightDecay); when omitted the optimiser's own default (0, AdamW 0.01). */
  weightDecay?: number;
  /** Embedding tables updated on the batch's rows only (default "lazy") or on every row ("dense"). */
  tableUpdates?: TableUpdates;
  /** The optimiser follows the batch's mean loss (default) or its sum (TrainConfig.lossReduction). */
  lossReduction?: LossReduction;
  /** Weight of the L2 term on the batch's user and item vectors (default 0; dot-product models). */
  l2?: number;
  /** Default "adam". */
  optimizer?: OptimizerKind;
  /** SGD momentum (default 0). */
  momentum?: number;
  /** Adam's β1, β2 (default 0.9, 0.999). */
  betas?: [number, number];
  /** Threads including this one (default: every core); 1 is deterministic. */
  threads?: number;
  /** Seeds the sample order and, with a UniformSampler, the negatives. */
  seed: number;
  /**
   * Draws negatives excluding each user's seen items. A UniformSampler only contributes its seen-item
   * index (draws come from the run's seeded generator); other samplers draw with their own distribution.
   */
  sampler: NegativeSampler;
  /** Validation metrics of the model after an epoch (called in eval mode on this thread). */
  validate?: (model: Recommender) => Record<string, number>;
  /**
   * Validate after every this many epochs, and after the last (default 1): long schedules spend their time
   * training. Patience counts epochs; only validated epochs can be the best.
   */
  validateEvery?: number;
  /** The validation metric deciding the best epoch (default "NDCG@10"). */
  monitor?: string;
  /** Whether larger values of `monitor` are better (default "max"). */
  mode?: "max" | "min";
  /**
   * The monitored metric of a random ranker under the validation protocol (e.g. NDCG@10 with one held-out
   * item among 100 candidates ≈ 0.045): a run at or below it for STALLED_EPOCHS epochs is stopped.
   */
  randomMonitor?: number;
  /** Epochs without improvement before stopping (default 5). */
  patience?: number;
  /** A progress bar on stderr (default on; never shown when stderr is not a terminal). */
  progress?: boolean;
  /** Called after every epoch's validation. */
  onEpoch?: (record: EpochRecord) => void;
  /** Start from this model's parameters (built from the same spec) instead of a fresh initialisation: fine-tuning. */
  initial?: Recommender;
  /**
   * Called on the shared parameters after every epoch's training pass, before validation: projects them
   * back onto what the model may hold (a pruning mask, a rank, a quantisation grid), so that every
   * validated and kept epoch satisfies the constraint.
   */
  constrain?: (model: Recommender) => void;
}

/** Epochs a run may sit at a random model's loss, or validate at a random ranker's level, before it is stopped. */
export const STALLED_EPOCHS = 5;
/** How close to the random loss counts as sitting at it. */
const RANDOM_LOSS_TOLERANCE = 1e-3;

/** Why a run was stopped as a failure, not a result. */
export type TrainingFailureReason = "diverged" | "random-loss" | "random-ranking";

/** A run that cannot produce a model worth keeping: the loss diverged, or the model stays random. */
export class TrainingFailure extends Error {
  constructor(
    message: string,
    readonly reason: TrainingFailureReason,
    readonly epoch: number,
  ) {
    super(message);
    this.name = "TrainingFailure";
  }
}

/** What one epoch did. */
export interface EpochRecord {
  /** 1-based. */
  epoch: number;
  /** Mean training loss per sample. */
  loss: number;
  /** The learning rate of the epoch's optimiser steps. */
  lr: number;
  /** Wall time of the training pass (negatives redrawn, shuffled, trained), without validation. */
  seconds: number;
  /** Wall time of the epoch's validation (0 without it, or on an epoch it was skipped). */
  validationSeconds: number;
  samplesPerSecond: number;
  /** The validation metrics (empty without `validate`). */
  metrics: Record<string, number>;
}

/** The outcome of {@link train}. */
export interface TrainResult {
  /** The trained model, holding the best epoch's parameters. */
  model: Recommender;
  history: EpochRecord[];
  /** The epoch whose parameters the model holds (the last one without `validate`; 0 if no epoch ran). */
  bestEpoch: number;
  bestMetrics: Record<string, number>;
  stoppedEarly: boolean;
}

/** Train `options.model` on `options.data`, minimising `options.objective` (default: the hard labels). */
export async function train(options: TrainOptions): Promise<TrainResult> {
  if (options.objective && options.weights) {
    throw new Error("train: give the hard-label weights or an objective, not both");
  }
  const objective = options.objective ?? hardObjective(options.weights);
  const batchSize = options.batchSize ?? 1024;
  const monitor = options.monitor ?? "NDCG@10";
  const patience = options.patience ?? 5;
  const sign = (options.mode ?? "max") === "max" ? 1 : -1;
  const threads = options.threads ?? availableParallelism();
  if (!(Number.isInteger(options.epochs) && options.epochs >= 0)) {
    throw new RangeError(`train: epochs must be a non-negative integer, got ${options.epochs}`);
  }
  if (!(Number.isInteger(batchSize) && batchSize > 0)) {
    throw new RangeError(`train: batchSize must be a positive integer, got ${batchSize}`);
  }
  if (!(Number.isInteger(threads) && threads >= 1)) {
    throw new RangeError(`train: threads must be a positive integer, got ${threads}`);
  }
  if (!(patience >= 1)) throw new RangeError(`train: patience must be ≥ 1, got ${patience}`);
  const validateEvery = options.validateEvery ?? 1;
  if (!(Number.isInteger(validateEvery) && validateEvery >= 1)) {
    throw new RangeError(`train: validateEvery must be a positive integer, got ${validateEvery}`);
  }

  const data: SharedData = {
    users: options.data.users,
    positives: options.data.positives,
    negatives: options.data.negatives,
    historyEnd: options.data.historyEnd,
    ...(options.data.conversions ? { conversions: options.data.conversions } : {}),
    ...objective.data,
  };
  const config: TrainConfig = {
    ...objective.config,
    model: options.model,
    context: options.context,
    optimizer: options.optimizer ?? "adam",
    lr: options.lr ?? 1e-3,
    ...(options.weightDecay === undefined ? {} : { weightDecay: options.weightDecay }),
    ...(options.tableUpdates === undefined ? {} : { tableUpdates: options.tableUpdates }),
    ...(options.lossReduction === undefined ? {} : { lossReduction: options.lossReduction }),
    ...(options.l2 === undefined ? {} : { l2: options.l2 }),
    ...(options.momentum === undefined ? {} : { momentum: options.momentum }),
    ...(options.betas === undefined ? {} : { betas: options.betas }),
  };

  // The schedule drives a stand-in for the optimisers: every thread has its own, and pool.epoch sets them all.
  const rate = { lr: config.lr };
  const schedule = options.schedule ? createSchedule(options.schedule, rate) : undefined;

  const n = sampleCount(options.data);
  const rng = new DataRng(options.seed);
  const negativeRng = options.sampler instanceof UniformSampler ? new DataRng(options.seed ^ 0x6e656761) : undefined;
  const order = objective.samples ? Int32Array.from(objective.samples) : Int32Array.from({ length: n }, (_, i) => i);
  const history: EpochRecord[] = [];
  let bestEpoch = 0;
  let bestValue = -Infinity;
  let bestMetrics: Record<string, number> = {};
  let best: Float32Array[] | null = null;
  let stoppedEarly = false;

  const pool = await TrainingPool.start<TrainConfig, Trainer>({
    programUrl: objective.programUrl,
    config,
    data,
    samples: n,
    threads,
  });
  const model = pool.local.model;
  const params = model.parameters();
  if (options.initial) copyParameters(options.initial, model);
  const bar = options.progress !== false && process.stderr.isTTY ? progressBar(options.epochs, monitor) : null;
  try {
    for (let epoch = 1; epoch <= options.epochs; epoch++) {
      const started = performance.now();
      redrawNegatives(options.data, options.sampler, negativeRng);
      rng.shuffle(order);
      const lr = rate.lr;
      const result = await pool.epoch(order, batchSize, { lr });
      const seconds = (performance.now() - started) / 1000;
      schedule?.step();
      // A diverged model would otherwise be validated, checkpointed and saved as if it were a result.
      if (!Number.isFinite(result.loss)) {
        throw new TrainingFailure(
          `train: the loss diverged (${result.loss}) in epoch ${epoch}; lower the learning rate (${lr}) or the loss weights`,
          "diverged",
          epoch,
        );
      }
      options.constrain?.(model);
      const validationStarted = performance.now();
      const validating = options.validate && (epoch % validateEvery === 0 || epoch === options.epochs);
      const metrics = validating ? validateIn(model, options.validate!) : {};
      const record: EpochRecord = {
        epoch,
        loss: result.samples > 0 ? result.loss / result.samples : 0,
        lr,
        seconds,
        validationSeconds: validating ? (performance.now() - validationStarted) / 1000 : 0,
        samplesPerSecond: seconds > 0 ? result.samples / seconds : 0,
        metrics,
      };
      history.push(record);
      options.onEpoch?.(record);
      checkStalled(history, objective.randomLoss, options.randomMonitor, monitor, config);
      bar?.update(epoch, { loss: record.loss.toFixed(4), metric: formatMetric(metrics[monitor]) });

      if (!options.validate) {
        bestEpoch = epoch;
        bestMetrics = metrics;
        continue;
      }
      // Early stopping is decided on validated epochs only: between them there is no evidence.
      if (!validating) continue;
      const value = metrics[monitor];
      if (value === undefined) {
        throw new Error(
          `train: validation returned no "${monitor}" to monitor (it returned: ${Object.keys(metrics).join(", ") || "nothing"})`,
        );
      }
      if (sign * value > bestValue) {
        bestValue = sign * value;
        bestEpoch = epoch;
        bestMetrics = metrics;
        best = snapshot(params, best);
      } else if (epoch - bestEpoch >= patience) {
        stoppedEarly = epoch < options.epochs;
        break;
      }
    }
  } finally {
    bar?.stop();
    await pool.close();
  }
  if (best) params.forEach((p, i) => p.data.set(best![i]!));
  return { model, history, bestEpoch, bestMetrics, stoppedEarly };
}

/**
 * Stop a run that learns nothing: its loss has sat at a random model's for STALLED_EPOCHS epochs, or its
 * validation at or below a random ranker's. The message names the usual causes, with this run's settings.
 */
function checkStalled(
  history: readonly EpochRecord[],
  randomLoss: number | undefined,
  randomMonitor: number | undefined,
  monitor: string,
  config: TrainConfig,
): void {
  const recent = history.slice(-STALLED_EPOCHS);
  const validated = history.filter((r) => r.metrics[monitor] !== undefined).slice(-STALLED_EPOCHS);
  const epoch = history.at(-1)!.epoch;
  const causes =
    `Likely causes: weight decay too strong (${config.weightDecay ?? 0} against the batch's ` +
    `${config.lossReduction ?? "mean"} loss; a number from PyTorch code that sums its loss needs lossReduction ` +
    `"sum", or about 1/batch-size of it here), or a learning rate too high or too low (${config.lr}).`;
  if (
    randomLoss !== undefined &&
    recent.length === STALLED_EPOCHS &&
    recent.every((r) => Math.abs(r.loss - randomLoss) < RANDOM_LOSS_TOLERANCE)
  ) {
    throw new TrainingFailure(
      `train: the loss has stayed at ${randomLoss.toFixed(4)}, a random model's, for ${STALLED_EPOCHS} epochs ` +
        `(epoch ${epoch}): the model learns nothing. ${causes}`,
      "random-loss",
      epoch,
    );
  }
  if (
    randomMonitor !== undefined &&
    validated.length === STALLED_EPOCHS &&
    validated.every((r) => r.metrics[monitor]! <= randomMonitor)
  ) {
    throw new TrainingFailure(
      `train: validation ${monitor} has been at or below a random ranker's (${randomMonitor.toFixed(4)}) for ` +
        `${STALLED_EPOCHS} validations (epoch ${epoch}: ${validated.at(-1)!.metrics[monitor]!.toFixed(4)}). ${causes}`,
      "random-ranking",
      epoch,
    );
  }
}

/** Copy `from`'s parameters into `to` (the same architecture), checking names and shapes. */
function copyParameters(from: Recommender, to: Recommender): void {
  const source = new Map(from.namedParameters());
  for (const [name, target] of to.namedParameters()) {
    const values = source.get(name);
    if (!values || values.data.length !== target.data.length) {
      throw new Error(`train: the initial model does not match the spec (parameter ${name})`);
    }
    target.data.set(values.data);
  }
}

/** Copy every parameter's values (into `into` when given, reusing its arrays). */
function snapshot(params: { data: Float32Array }[], into: Float32Array[] | null): Float32Array[] {
  if (!into) return params.map((p) => p.data.slice());
  params.forEach((p, i) => into[i]!.set(p.data));
  return into;
}

/** Run `validate` with the model in evaluation mode (dropout off), then switch training mode back on. */
function validateIn(
  model: Recommender,
  validate: (model: Recommender) => Record<string, number>,
): Record<string, number> {
  const wasTraining = model.training;
  model.eval();
  try {
    return validate(model);
  } finally {
    model.train(wasTraining);
  }
}

function formatMetric(value: number | undefined): string {
  return value === undefined ? "-" : value.toFixed(4);
}

function progressBar(epochs: number, monitor: string): cliProgress.SingleBar {
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `train {bar} epoch {value}/{total} | loss {loss} | ${monitor} {metric} | ETA {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: false,
      etaBuffer: 5,
    },
    cliProgress.Presets.shades_classic,
  );
  bar.start(epochs, 0, { loss: "-", metric: "-" });
  return bar;
}
