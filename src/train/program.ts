/**
 * The plain training program (see engine/parallel.ts): samples are the shared (user, positive, negative,
 * historyEnd) arrays of training-data.ts; each step computes the model's own loss on the batch (pairwise
 * BPR), back-propagates and takes an optimiser step. When the shared data has task labels
 * (`conversions`), a multi-task model's extra heads also learn them. Other programs (distillation's)
 * build on the same config and batches: {@link TrainConfig}, {@link Trainer}, {@link batchGatherer}.
 */
import type { Optimizer } from "../engine/optim.js";
import * as ops from "../engine/ops/index.js";
import type { SharedData, Trainable, TrainProgram } from "../engine/parallel.js";
import type { Tensor } from "../engine/tensor.js";
import type { ModelContext } from "../models/context.js";
import type { PairwiseBatch, Recommender } from "../models/recommender.js";
import { createModel, type ModelSpec } from "../models/zoo.js";
import { hardTaskLosses } from "./losses.js";
import { createOptimizer, type OptimizerSettings } from "./optimizers.js";

/** The plain (structured-cloneable) config every training program starts from. */
export interface TrainConfig extends OptimizerSettings {
  model: ModelSpec;
  context: ModelContext;
}

/** What a training program builds on every thread: the model, its optimiser and the step. */
export interface Trainer extends Trainable {
  model: Recommender;
  optimizer: Optimizer;
}

/** A batch of samples as the loss functions take it, with each positive's task label when the data has them. */
export interface TrainingBatch extends PairwiseBatch {
  /** The task label of each triple's positive (1 = converted), learned by a multi-task model's extra heads. */
  taskLabels?: Float32Array;
}

/**
 * Reads batches of sample indices out of the shared training data; task labels only when `withTasks`
 * (a multi-task model that learns them) and the data has them.
 */
export function batchGatherer(data: SharedData, withTasks: boolean): (batch: Int32Array) => TrainingBatch {
  const users = data.users as Int32Array;
  const positives = data.positives as Int32Array;
  const negatives = data.negatives as Int32Array;
  const positions = data.historyEnd as Int32Array | undefined;
  const conversions = withTasks ? (data.conversions as Uint8Array | undefined) : undefined;
  return (batch) => {
    const n = batch.length;
    const u = new Int32Array(n);
    const p = new Int32Array(n);
    const q = new Int32Array(n);
    const ends = positions ? new Int32Array(n) : undefined;
    const taskLabels = conversions ? new Float32Array(n) : undefined;
    for (let k = 0; k < n; k++) {
      const s = batch[k]!;
      u[k] = users[s]!;
      p[k] = positives[s]!;
      q[k] = negatives[s]!;
      if (ends) ends[k] = positions![s]!;
      if (taskLabels) taskLabels[k] = conversions![s]!;
    }
    return { users: u, positives: p, negatives: q, historyEnd: ends, taskLabels };
  };
}

/** The hard-label loss of a batch: BPR, plus the extra heads' task labels when the batch has them. */
export function hardObjective(model: Recommender, batch: TrainingBatch): Tensor {
  if (!batch.taskLabels) return model.loss(batch);
  // The main head's loss comes from the same forward pass as the extra heads'.
  const { hard, tasks } = hardTaskLosses(model, batch, batch.taskLabels);
  return ops.add(hard, tasks);
}

export const program: TrainProgram<TrainConfig, Trainer> = {
  build(config: TrainConfig, data: SharedData): Trainer {
    const model = createModel(config.model, config.context);
    const optimizer = createOptimizer(config, model.parameters());
    const gather = batchGatherer(data, model.tasks.length > 1);
    return {
      model,
      optimizer,
      step(batch: Int32Array): number {
        const loss = hardObjective(model, gather(batch));
        loss.backward();
        optimizer.step();
        return loss.item() * batch.length;
      },
    };
  },
};

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const trainProgramUrl = import.meta.url;
