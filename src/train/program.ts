/**
 * Training programs (see engine/parallel.ts): every thread builds the model from its spec, the objective's
 * own parts, and an optimiser over both; each step gathers the batch's (user, positive, negative,
 * historyEnd) triples from the shared samples of training-data.ts (with the positives' task labels when
 * the data has `conversions` and the model several heads), takes the objective's loss and back-propagates
 * it; the pool steps the optimiser (engine/parallel.ts). An objective is a module exporting such a `program` (built with
 * {@link trainingProgram}) plus the plain config and shared arrays it needs: this module's own `program`
 * learns the hard labels (BPR or BCE, and a multi-task model's task labels); distillation supplies another
 * (distill/program.ts).
 */
import * as ops from "../engine/ops/index.js";
import type { Optimizer } from "../engine/optim.js";
import type { SharedData, Trainable, TrainProgram } from "../engine/parallel.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelContext } from "../models/context.js";
import { createModel, type ModelSpec } from "../models/zoo.js";
import type { Recommender } from "../models/recommender.js";
import { isDotProduct, type DotProductModel } from "../models/dot-product.js";
import { batchL2, hardObjectiveLoss, type HardWeights, type TrainBatch } from "./losses.js";
import { createOptimizer, type OptimizerSettings } from "./optimizer.js";

/** The plain (structured-cloneable) config every training program gets: the model, its context, the optimiser. */
export interface TrainConfig extends OptimizerSettings {
  model: ModelSpec;
  context: ModelContext;
  /**
   * What the optimiser's step follows: the gradient of the batch's mean loss (default) or of its sum, as
   * PyTorch reference code writes it (`.sum()`), so that a learning rate and weight decay taken from such
   * code mean the same here. The logged loss is the mean either way.
   */
  lossReduction?: LossReduction;
  /** Weight of the L2 term on the batch's user and item vectors (batchL2; the BPR papers'), default 0. */
  l2?: number;
}

export const LOSS_REDUCTIONS = ["mean", "sum"] as const;
export type LossReduction = (typeof LOSS_REDUCTIONS)[number];

/** What a training program builds on every thread. */
export interface Trainer extends Trainable {
  model: Recommender;
  optimizer: Optimizer;
}

/** What an objective builds on a thread beside the model (right after it, so allocations replay in order). */
export interface ObjectiveParts<Extra extends object = object> {
  /** The loss of one batch, or null when the batch has nothing to learn from (no step is taken). */
  loss(batch: TrainBatch): Tensor | null;
  /** Parameters trained with the model's (e.g. a projection); default none. */
  trained?: Tensor[];
  /** Fields added to the built trainer (e.g. a frozen teacher), for the caller to inspect. */
  fields?: Extra;
}

/** An objective on a thread: its parts, built from the config, the shared data and the freshly built model. */
export type ObjectiveBuilder<Config extends TrainConfig, Extra extends object> = (
  config: Config,
  data: SharedData,
  model: Recommender,
  thread: number,
) => ObjectiveParts<Extra>;

/** A training program minimising the objective `build` makes on each thread. */
export function trainingProgram<Config extends TrainConfig, Extra extends object = object>(
  build: ObjectiveBuilder<Config, Extra>,
): TrainProgram<Config, Trainer & Extra> {
  return {
    build(config: Config, data: SharedData, thread = 0): Trainer & Extra {
      const model = createModel(config.model, config.context);
      const objective = build(config, data, model, thread);
      const trained = objective.trained ? [...model.parameters(), ...objective.trained] : model.parameters();
      const optimizer = createOptimizer(config, trained);
      const gather = batchGatherer(data, model);
      const l2 = config.l2 ?? 0;
      const l2Model = l2 > 0 ? dotProductOf(model) : null;
      const summed = (config.lossReduction ?? "mean") === "sum";
      return {
        model,
        optimizer,
        ...(objective.fields as Extra),
        backward(samples: Int32Array, share: number, step: number): number | null {
          const batch = { ...gather(samples), step };
          const objectiveLoss = objective.loss(batch);
          if (!objectiveLoss) return null;
          const loss = l2Model ? ops.add(objectiveLoss, ops.scale(batchL2(l2Model, batch), l2)) : objectiveLoss;
          // A slice's mean counts as its share of the whole batch's mean; a summed loss is a sum either way.
          const weight = summed ? samples.length : share;
          (weight === 1 ? loss : ops.scale(loss, weight)).backward();
          return loss.item() * samples.length;
        },
      };
    },
  };
}

/** The model as a dot-product model, which the l2 term needs. */
function dotProductOf(model: Recommender): DotProductModel {
  if (!isDotProduct(model)) {
    throw new Error(`train: l2 needs a dot-product model (BPR-MF, two-tower), not ${model.kind}; use weightDecay`);
  }
  return model;
}

/** Gathers a batch of sample indices into triples (with task labels for a multi-task model when the data has them). */
function batchGatherer(data: SharedData, model: Recommender): (samples: Int32Array) => TrainBatch {
  const users = data.users as Int32Array;
  const positives = data.positives as Int32Array;
  const negatives = data.negatives as Int32Array;
  const positions = data.historyEnd as Int32Array | undefined;
  const conversions = model.tasks.length > 1 ? (data.conversions as Uint8Array | undefined) : undefined;
  return (samples) => {
    const n = samples.length;
    const u = new Int32Array(n);
    const p = new Int32Array(n);
    const q = new Int32Array(n);
    const ends = positions ? new Int32Array(n) : undefined;
    const taskLabels = conversions ? new Float32Array(n) : undefined;
    for (let k = 0; k < n; k++) {
      const s = samples[k]!;
      u[k] = users[s]!;
      p[k] = positives[s]!;
      q[k] = negatives[s]!;
      if (ends) ends[k] = positions![s]!;
      if (taskLabels) taskLabels[k] = conversions![s]!;
    }
    return { users: u, positives: p, negatives: q, historyEnd: ends, taskLabels };
  };
}

/**
 * What a training run minimises: the module URL of its program (exporting `program`, see
 * {@link trainingProgram}), the plain fields its config adds to {@link TrainConfig}, and the shared arrays
 * it adds to the samples.
 */
export interface Objective {
  programUrl: string;
  config: Record<string, unknown>;
  data?: SharedData;
  /** The samples an epoch visits, in any order (default every sample); e.g. one per user for next-item training. */
  samples?: Int32Array;
  /** The loss of a model that scores everything alike, when known (ln 2 for BPR): the trainer's stall guard. */
  randomLoss?: number;
}

/** The hard-label program's config. */
export interface HardConfig extends TrainConfig {
  /** Default {hard: 1}: plain BPR, and a multi-task model's extra heads learn the task labels. */
  weights?: HardWeights;
}

/** The hard-label program: with the default weights and a single-head model, exactly pairwise BPR training. */
export const program: TrainProgram<HardConfig, Trainer> = trainingProgram<HardConfig>((config, _data, model) => {
  const weights = config.weights ?? {};
  return { loss: (batch) => hardObjectiveLoss(model, batch, weights) };
});

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const trainProgramUrl = import.meta.url;

/** The hard-label objective with these weights (default {hard: 1}). */
export function hardObjective(weights: HardWeights = { hard: 1 }): Objective {
  // BPR and BCE both cost ln 2 a pair when every score is equal (σ(0) = ½); task heads add their own terms,
  // which only lift the loss off that level.
  const hard = weights.hard ?? 1;
  return { programUrl: trainProgramUrl, config: { weights }, ...(hard > 0 ? { randomLoss: hard * Math.LN2 } : {}) };
}
