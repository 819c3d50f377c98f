// Fixtures shared by the model tests: a hand-made tiny context, one scored pair, and a short BPR run.
import { buildUserHistories } from "../../src/data/history.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { Ids } from "../../src/engine/ops/embedding.js";
import { Adam } from "../../src/engine/optim.js";
import { Rng } from "../../src/engine/random.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import {
  featureInputs,
  historyInputs,
  type ModelContext,
  type PairwiseBatch,
  type Recommender,
} from "../../src/models/index.js";

/** 5 users, 7 items; one categorical, one multi-valued and one numeric column per side; hand-made histories. */
export function tinyContext(): ModelContext {
  return {
    numUsers: 5,
    numItems: 7,
    userFeatures: {
      categorical: [{ name: "region", vocabSize: 3, ids: new Int32Array([1, 2, 0, 1, 2]) }],
      multi: [
        {
          name: "interests",
          vocabSize: 4,
          offsets: new Int32Array([0, 1, 3, 4, 5, 7]),
          ids: new Int32Array([1, 2, 3, 0, 1, 3, 2]),
        },
      ],
      numeric: [{ name: "age", values: new Float32Array([-1, 0.5, 0, 1.5, -0.3]) }],
    },
    itemFeatures: {
      categorical: [{ name: "category", vocabSize: 3, ids: new Int32Array([1, 1, 2, 2, 0, 1, 2]) }],
      multi: [
        {
          name: "tags",
          vocabSize: 5,
          offsets: new Int32Array([0, 2, 3, 4, 6, 7, 8, 10]),
          ids: new Int32Array([1, 2, 3, 4, 1, 3, 0, 2, 4, 1]),
        },
      ],
      numeric: [{ name: "price", values: new Float32Array([0.2, -1, 1.1, 0, 0.7, -0.4, 2]) }],
    },
    // user 0: 3 items, user 1: 2, user 2: none, user 3: 4, user 4: 1
    histories: {
      offsets: new Int32Array([0, 3, 5, 5, 9, 10]),
      items: new Int32Array([1, 4, 2, 0, 6, 3, 5, 1, 2, 6]),
    },
  };
}

export const tinyBatch: PairwiseBatch = {
  users: new Int32Array([0, 1, 3, 3, 4, 2]),
  positives: new Int32Array([2, 6, 5, 2, 6, 1]),
  negatives: new Int32Array([5, 3, 0, 4, 1, 0]),
  historyEnd: new Int32Array([2, 4, 7, 9, 10, 5]),
};

/** The score of one (user, item) pair, optionally with an explicit history or a history end. */
export function forwardOne(model: Recommender, user: number, item: number, history?: Int32Array, end?: number): number {
  const score = noGrad(() =>
    model
      .forward({
        users: new Ids(new Int32Array([user])),
        items: new Ids(new Int32Array([item])),
        history: history ? { ids: history, offsets: new Int32Array([0]) } : undefined,
        historyEnd: end === undefined ? undefined : new Int32Array([end]),
      })
      .item(),
  );
  endStep();
  return score;
}

/**
 * BPR with uniform negatives on generateEcommerce({users: 200, items: 100, events: 5000, seed: 1}): each
 * example is a position in a user's history (positive = that item, history = what came before it).
 * Returns the model and its loss on a fixed held-out batch before and after training.
 */
export function trainBriefly(build: (context: ModelContext) => Recommender): {
  model: Recommender;
  before: number;
  after: number;
} {
  const data = generateEcommerce({ users: 200, items: 100, events: 5000, seed: 1 });
  const histories = buildUserHistories(data.interactions, data.users.size);
  const context: ModelContext = {
    numUsers: data.users.size,
    numItems: data.items.size,
    userFeatures: featureInputs(data.userFeatures!),
    itemFeatures: featureInputs(data.itemFeatures!),
    histories: historyInputs(histories),
  };
  const model = build(context);
  const rng = new Rng(7);
  const positionUser = new Int32Array(histories.items.length);
  for (let u = 0; u < context.numUsers; u++) positionUser.fill(u, histories.offsets[u]!, histories.offsets[u + 1]!);
  const draw = (size: number): PairwiseBatch => {
    const users = new Int32Array(size);
    const positives = new Int32Array(size);
    const negatives = new Int32Array(size);
    const historyEnd = new Int32Array(size);
    for (let k = 0; k < size; k++) {
      const p = Math.floor(rng.next() * histories.items.length);
      users[k] = positionUser[p]!;
      positives[k] = histories.items[p]!;
      negatives[k] = Math.floor(rng.next() * context.numItems);
      historyEnd[k] = p;
    }
    return { users, positives, negatives, historyEnd };
  };
  const held = draw(1024);
  const evaluate = (): number => {
    const v = noGrad(() => model.loss(held).item());
    endStep();
    return v;
  };
  const before = evaluate();
  const opt = new Adam(model.parameters(), { lr: 0.01 });
  for (let step = 0; step < 60; step++) {
    opt.zeroGrad();
    model.loss(draw(256)).backward();
    opt.step();
    endStep();
  }
  return { model, before, after: evaluate() };
}
