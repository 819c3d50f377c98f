/** The small synthetic shop and the options that train on it, shared by the training and distillation tests. */
import { buildUserHistories } from "../../src/data/history.js";
import { buildUserItemIndex, sampleCandidates, UniformSampler } from "../../src/data/sampling.js";
import { leaveOneOut } from "../../src/data/splits.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { historyInputs, type ModelContext } from "../../src/models/context.js";
import type { Module } from "../../src/engine/nn.js";
import type { ModelSpec } from "../../src/models/index.js";
import type { Recommender } from "../../src/models/recommender.js";
import { buildTrainingData } from "../../src/train/training-data.js";
import type { DistillOptions } from "../../src/distill/distill.js";

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

export function options(overrides: Partial<DistillOptions> = {}): DistillOptions {
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
