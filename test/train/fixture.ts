/** The small synthetic shop the training tests learn on, and what they share. */
import { buildUserHistories } from "../../src/data/history.js";
import { DataRng } from "../../src/data/rng.js";
import { buildUserItemIndex, sampleCandidates, UniformSampler } from "../../src/data/sampling.js";
import { leaveOneOut } from "../../src/data/splits.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { TrainingPool } from "../../src/engine/parallel.js";
import { historyInputs, type ModelContext } from "../../src/models/context.js";
import type { Module } from "../../src/engine/nn.js";
import { Adam } from "../../src/engine/optim.js";
import { createModel, type ModelSpec } from "../../src/models/index.js";
import type { Recommender } from "../../src/models/recommender.js";
import type { Trainer, TrainConfig } from "../../src/train/program.js";
import { buildTrainingData, redrawNegatives } from "../../src/train/training-data.js";
import type { TrainOptions } from "../../src/train/trainer.js";

export const NUM_USERS = 300;
export const NUM_ITEMS = 150;

/** The small synthetic shop, split leave-one-out, with everything training needs. */
export function fixture() {
  const dataset = generateEcommerce({ users: NUM_USERS, items: NUM_ITEMS, events: 8000, seed: 1 });
  const split = leaveOneOut(dataset.interactions);
  const histories = buildUserHistories(split.train, NUM_USERS);
  const context: ModelContext = { numUsers: NUM_USERS, numItems: NUM_ITEMS, histories: historyInputs(histories) };
  const seen = buildUserItemIndex(split.train, NUM_USERS);
  const data = buildTrainingData(split.train, context, histories);
  return { split, histories, context, seen, data };
}

export const shop = fixture();

/**
 * A tiny sampled evaluation: each validation item ranked among 50 unseen items fixed up front;
 * NDCG@10 = 1/log2(rank + 2) when the rank is below 10.
 */
export function makeValidator(seed = 7): (model: Recommender) => Record<string, number> {
  const { valid } = shop.split;
  const sampler = new UniformSampler(shop.seen, NUM_ITEMS, { seed });
  const cases = Array.from({ length: valid.length }, (_, r) => {
    const user = valid.users[r]!;
    const item = valid.items[r]!;
    const negatives = sampleCandidates(user, [item], 50, sampler);
    return { user, items: Int32Array.from([item, ...negatives]) };
  });
  return (model) => {
    const scorer = model.scorer();
    let ndcg = 0;
    let hits = 0;
    for (const c of cases) {
      const scores = scorer.scoreCandidates({ user: c.user }, c.items);
      let rank = 0;
      for (let k = 1; k < scores.length; k++) if (scores[k]! >= scores[0]!) rank++;
      if (rank < 10) {
        ndcg += 1 / Math.log2(rank + 2);
        hits++;
      }
    }
    return { "NDCG@10": ndcg / cases.length, "HR@10": hits / cases.length };
  };
}

export const spec: ModelSpec = { kind: "bpr-mf", dim: 16, seed: 3 };

export function options(overrides: Partial<TrainOptions> = {}): TrainOptions {
  return {
    model: spec,
    context: shop.context,
    data: shop.data,
    epochs: 3,
    batchSize: 256,
    lr: 0.01,
    threads: 1,
    seed: 11,
    sampler: new UniformSampler(shop.seen, NUM_ITEMS, { seed: 5 }),
    progress: false,
    ...overrides,
  };
}

export const params = (model: Module) => model.parameters().map((p) => p.data.slice());

/**
 * One epoch of the program at `programUrl` (config `extra` besides the model and optimiser) on one thread,
 * and the same epoch by hand: pairwise BPR with Adam over the same batches.
 */
export async function againstPlainBpr(programUrl: string, extra: Record<string, unknown>) {
  const { data, context } = shop;
  redrawNegatives(data, new UniformSampler(shop.seen, NUM_ITEMS, { seed: 1 }), new DataRng(2));
  const order = Int32Array.from({ length: data.users.length }, (_, i) => i);
  new DataRng(4).shuffle(order);
  const pool = await TrainingPool.start<TrainConfig, Trainer>({
    programUrl,
    config: { model: spec, context, lr: 0.01, optimizer: "adam", ...extra },
    data: { users: data.users, positives: data.positives, negatives: data.negatives, historyEnd: data.historyEnd },
    threads: 1,
  });
  try {
    const model = createModel(spec, context);
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    let total = 0;
    for (let start = 0; start < order.length; start += 128) {
      const batch = order.subarray(start, start + 128);
      const pick = (values: Int32Array) => Int32Array.from(batch, (s) => values[s]!);
      const loss = model.loss({
        users: pick(data.users),
        positives: pick(data.positives),
        negatives: pick(data.negatives),
        historyEnd: pick(data.historyEnd),
      });
      loss.backward();
      optimizer.step();
      total += loss.item() * batch.length;
    }
    const result = await pool.epoch(order, 128);
    return { loss: result.loss, expectedLoss: total, params: params(pool.local.model), expected: params(model) };
  } finally {
    await pool.close();
  }
}
