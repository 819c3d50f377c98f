/**
 * The training program for pairwise (BPR) training of any model in the zoo, runnable on one thread or
 * as a Hogwild pool (see engine/parallel.ts). Samples are (user, positive, negative) triples in shared
 * arrays; the caller redraws `negatives` between epochs.
 */
import { Adam } from "../engine/optim.js";
import type { SharedData, Trainable, TrainProgram } from "../engine/parallel.js";
import type { ModelContext } from "./context.js";
import { createModel, type ModelSpec } from "./index.js";
import type { Recommender } from "./recommender.js";

export interface PairwiseConfig {
  model: ModelSpec;
  context: ModelContext;
  lr: number;
  weightDecay?: number;
}

export interface PairwiseTrainer extends Trainable {
  model: Recommender;
  optimizer: Adam;
}

export const program: TrainProgram<PairwiseConfig, PairwiseTrainer> = {
  build(config: PairwiseConfig, data: SharedData): PairwiseTrainer {
    const model = createModel(config.model, config.context);
    const optimizer = new Adam(model.parameters(), { lr: config.lr, weightDecay: config.weightDecay ?? 0 });
    const users = data.users as Int32Array;
    const positives = data.positives as Int32Array;
    const negatives = data.negatives as Int32Array;
    // Optional: where each sample's positive sits in context.histories, so history models see only the past.
    const positions = data.historyEnd as Int32Array | undefined;
    return {
      model,
      optimizer,
      step(batch: Int32Array): number {
        const n = batch.length;
        const u = new Int32Array(n);
        const p = new Int32Array(n);
        const q = new Int32Array(n);
        const ends = positions ? new Int32Array(n) : undefined;
        for (let k = 0; k < n; k++) {
          const s = batch[k]!;
          u[k] = users[s]!;
          p[k] = positives[s]!;
          q[k] = negatives[s]!;
          if (ends) ends[k] = positions![s]!;
        }
        const loss = model.loss({ users: u, positives: p, negatives: q, historyEnd: ends });
        loss.backward();
        optimizer.step();
        return loss.item() * n;
      },
    };
  },
};

/** URL of this module, for TrainingPool.start({ programUrl }). */
export const pairwiseProgramUrl = import.meta.url;
