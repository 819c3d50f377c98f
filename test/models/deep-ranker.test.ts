import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserHistories } from "../../src/data/history.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import * as ops from "../../src/engine/ops/index.js";
import { Ids } from "../../src/engine/ops/embedding.js";
import { Adam } from "../../src/engine/optim.js";
import { Rng } from "../../src/engine/random.js";
import { endStep, noGrad, type Tensor } from "../../src/engine/tensor.js";
import { DeepRanker, type DeepRankerConfig } from "../../src/models/deep-ranker.js";
import {
  createModel,
  featureInputs,
  historyInputs,
  unknownUser,
  type FeatureInputs,
  type HistoryBag,
  type ModelContext,
  type Pairs,
} from "../../src/models/index.js";
import { gradCheck } from "../helpers/gradcheck.js";

const userFeatures: FeatureInputs = {
  categorical: [{ name: "region", vocabSize: 3, ids: new Int32Array([1, 2, 0, 1, 2]) }],
  multi: [
    {
      name: "tags",
      vocabSize: 4,
      offsets: new Int32Array([0, 1, 3, 4, 5, 7]),
      ids: new Int32Array([1, 2, 3, 0, 1, 2, 3]),
    },
  ],
  numeric: [{ name: "age", values: new Float32Array([0.5, -1, 0.2, 1.3, 0]) }],
};

const itemFeatures: FeatureInputs = {
  categorical: [{ name: "category", vocabSize: 3, ids: new Int32Array([1, 1, 2, 2, 0, 1, 2]) }],
  multi: [
    {
      name: "genres",
      vocabSize: 3,
      offsets: new Int32Array([0, 1, 2, 4, 5, 6, 8, 9]),
      ids: new Int32Array([1, 2, 1, 2, 0, 1, 1, 2, 2]),
    },
  ],
  numeric: [{ name: "price", values: new Float32Array([-0.5, 0.1, 1.2, -1.1, 0.3, 0.8, -0.2]) }],
};

/** Users 0..4 with histories of length 3, 2, 0, 3, 4 (user 2 has none). */
function histories(): { offsets: Int32Array; items: Int32Array } {
  return {
    offsets: new Int32Array([0, 3, 5, 5, 8, 12]),
    items: new Int32Array([0, 4, 2, 6, 1, 3, 5, 0, 2, 6, 4, 1]),
  };
}

function fullContext(): ModelContext {
  return { numUsers: 5, numItems: 7, userFeatures, itemFeatures, histories: histories() };
}

/**
 * Finite-difference step: small, because a ReLU pre-activation within eps of 0 makes central differences
 * straddle the kink (with ~80 pre-activations of size ~0.2, eps = 1e-2 hits one in most models); float32
 * round-off at this step stays well under the tolerance for sums of a few logits.
 */
const EPS = 1e-4;

const tiny: DeepRankerConfig = {
  embeddingDim: 4,
  maxHistory: 3,
  crossLayers: 2,
  deepSizes: [5],
  initStd: 0.5,
  seed: 3,
};
const mmoe: DeepRankerConfig = { ...tiny, experts: 2, expertSizes: [3], seed: 4 };

const users = [0, 1, 2, 3, 4, 5, 3];
const items = [2, 0, 6, 5, 1, 3, 4];

function pairs(extra: Partial<Pairs> = {}, u = users, i = items): Pairs {
  return { users: new Ids(Int32Array.from(u)), items: new Ids(Int32Array.from(i)), ...extra };
}

/** Run `fn` without gradients and copy out the values before the step's scratch is released. */
function values(fn: () => Tensor): Float32Array {
  const out = noGrad(() => fn().data.slice());
  endStep();
  return out;
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let k = 0; k < a.length; k++) m = Math.max(m, Math.abs(a[k]! - b[k]!));
  return m;
}

describe("deep-ranker", () => {
  for (const [label, config] of [
    ["shared bottom", tiny],
    ["MMoE", mmoe],
  ] as const) {
    test(`${label}: the main logit's gradient matches finite differences for every parameter`, () => {
      const model = new DeepRanker(config, fullContext());
      // Cut history short for some pairs so both context bags and historyEnd are exercised.
      const historyEnd = new Int32Array([2, 4, 5, 8, 11, 0, 6]);
      gradCheck(() => ops.sum(model.forward(pairs({ historyEnd }))), model.parameters(), {
        eps: EPS,
        maxElements: 12,
      });
    });

    test(`${label}: every head's gradient matches finite differences (towers and gates included)`, () => {
      const model = new DeepRanker(config, fullContext());
      const loss = (): Tensor => {
        const heads = model.forwardTasks(pairs());
        return ops.add(ops.sum(heads["main"]!), ops.scale(ops.sum(heads["conversion"]!), 0.5));
      };
      gradCheck(loss, model.parameters(), { eps: EPS, maxElements: 8 });
    });
  }

  test("MMoE gate and tower parameters get gradients only from their own task", () => {
    const model = new DeepRanker(mmoe, fullContext());
    const gradients = (task: string): Map<string, number> => {
      for (const p of model.parameters()) {
        p.grad = null;
        p.sparseGrad = null;
      }
      ops.sum(model.forwardTasks(pairs())[task]!).backward();
      const out = new Map<string, number>();
      for (const [name, p] of model.namedParameters()) {
        out.set(name, p.grad ? p.grad.data.reduce((s, v) => s + Math.abs(v), 0) : 0);
      }
      endStep();
      return out;
    };
    const main = gradients("main");
    const conversion = gradients("conversion");
    assert.ok(main.get("gates.0.weight")! > 0 && main.get("gates.1.weight") === 0);
    assert.ok(conversion.get("gates.1.weight")! > 0 && conversion.get("gates.0.weight") === 0);
    assert.ok(main.get("towers.0.weight")! > 0 && main.get("towers.1.weight") === 0);
    assert.ok(main.get("experts.1.layers.0.weight")! > 0 && conversion.get("experts.1.layers.0.weight")! > 0);
  });

  for (const [label, config] of [
    ["shared bottom", tiny],
    ["MMoE", mmoe],
  ] as const) {
    test(`${label}: forwardTasks returns every head as [n], main first and equal to forward`, () => {
      const model = new DeepRanker({ ...config, tasks: ["click", "cart", "buy"] }, fullContext());
      const heads = noGrad(() => model.forwardTasks(pairs()));
      assert.deepEqual(Object.keys(heads), ["click", "cart", "buy"]);
      for (const h of Object.values(heads)) assert.deepEqual(h.shape, [items.length]);
      const click = heads["click"]!.data.slice();
      const cart = heads["cart"]!.data.slice();
      endStep();
      assert.ok(maxAbsDiff(click, cart) > 1e-4, "heads are distinct");
      assert.ok(
        maxAbsDiff(
          click,
          values(() => model.forward(pairs())),
        ) < 1e-6,
      );
    });
  }

  test("a cross layer computes x0 ⊙ (W x + b) + x", () => {
    const model = new DeepRanker({ ...tiny, crossLayers: 1, deepSizes: [], tasks: ["main"] }, fullContext());
    const cross = model.cross.at(0);
    cross.weight.data.fill(0);
    const towerBias = model.towers.at(0).bias!.data[0]!;
    // W = 0, b = 0: the layer passes x0 through; b = 1: it doubles it, so the tower's linear part doubles.
    cross.bias!.data.fill(0);
    const once = values(() => model.forward(pairs()));
    cross.bias!.data.fill(1);
    const twice = values(() => model.forward(pairs()));
    for (let k = 0; k < once.length; k++) {
      assert.ok(Math.abs(twice[k]! - towerBias - 2 * (once[k]! - towerBias)) < 1e-5);
      assert.ok(Math.abs(once[k]! - towerBias) > 1e-4);
    }
  });

  test("representation is the main tower's input", () => {
    const shared = new DeepRanker(tiny, fullContext());
    const rep = noGrad(() => shared.representation(pairs()));
    assert.deepEqual(rep.shape, [items.length, shared.sharedDim]);
    // The main tower applied to the representation gives the main logit.
    const tower = shared.towers.at(0);
    const viaRep = noGrad(() => tower.forward(rep).data.slice());
    endStep();
    assert.ok(
      maxAbsDiff(
        viaRep,
        values(() => shared.forward(pairs())),
      ) < 1e-5,
    );

    const experts = new DeepRanker(mmoe, fullContext());
    const mixed = noGrad(() => experts.representation(pairs()));
    assert.deepEqual(mixed.shape, [items.length, 3]);
    const viaMix = noGrad(() => experts.towers.at(0).forward(mixed).data.slice());
    endStep();
    assert.ok(
      maxAbsDiff(
        viaMix,
        values(() => experts.forward(pairs())),
      ) < 1e-5,
    );
  });

  test("an explicit history overrides the training history (real time) and scores unknown users", () => {
    const model = new DeepRanker(tiny, fullContext());
    const u = [3, 3];
    const i = [1, 4];
    const trained = values(() => model.forward(pairs({}, u, i)));
    const recent: HistoryBag = { ids: new Int32Array([6, 6, 3, 6, 6, 3]), offsets: new Int32Array([0, 3]) };
    const live = values(() => model.forward(pairs({ history: recent }, u, i)));
    assert.ok(maxAbsDiff(trained, live) > 1e-4, "the explicit history must change the scores");

    const cold = unknownUser(model.context);
    const withHistory = values(() => model.forward(pairs({ history: recent }, [cold, cold], i)));
    const without = values(() => model.forward(pairs({}, [cold, cold], i)));
    for (const v of [...withHistory, ...without]) assert.ok(Number.isFinite(v));
    assert.ok(maxAbsDiff(withHistory, without) > 1e-4, "a cold user's recent items must count");

    // The default scorer forwards query.history the same way.
    const scored = model
      .scorer()
      .scoreCandidates({ user: cold, history: new Int32Array([6, 6, 3]) }, Int32Array.from(i));
    assert.ok(maxAbsDiff(scored, withHistory) < 1e-5);
  });

  test("an explicit history longer than maxHistory only counts its last maxHistory items", () => {
    const model = new DeepRanker(tiny, fullContext());
    const long: HistoryBag = { ids: new Int32Array([0, 1, 6, 3, 5]), offsets: new Int32Array([0]) };
    const other: HistoryBag = { ids: new Int32Array([4, 2, 6, 3, 5]), offsets: new Int32Array([0]) };
    const last: HistoryBag = { ids: new Int32Array([6, 3, 5]), offsets: new Int32Array([0]) };
    const a = values(() => model.forward(pairs({ history: long }, [1], [2])));
    const b = values(() => model.forward(pairs({ history: other }, [1], [2])));
    const c = values(() => model.forward(pairs({ history: last }, [1], [2])));
    assert.ok(maxAbsDiff(a, c) < 1e-6 && maxAbsDiff(b, c) < 1e-6);
  });

  test("history after historyEnd does not influence the score (no peeking)", () => {
    const context = fullContext();
    const model = new DeepRanker(tiny, context);
    // User 4's history spans [8, 12); see only its first two items.
    const historyEnd = new Int32Array([10, 10]);
    const score = (): Float32Array => values(() => model.forward(pairs({ historyEnd }, [4, 4], [0, 5])));
    const before = score();
    context.histories!.items[10] = 3;
    context.histories!.items[11] = 5;
    assert.ok(maxAbsDiff(before, score()) < 1e-7, "future items must not matter");
    context.histories!.items[9] = 3;
    assert.ok(maxAbsDiff(before, score()) > 1e-4, "visible items must matter");
  });

  test("contexts without features or histories work", () => {
    const contexts: ModelContext[] = [
      { numUsers: 5, numItems: 7 },
      { numUsers: 5, numItems: 7, histories: histories() },
      { numUsers: 5, numItems: 7, itemFeatures },
      { numUsers: 5, numItems: 7, userFeatures },
    ];
    for (const context of contexts) {
      for (const config of [tiny, mmoe]) {
        const model = new DeepRanker(config, context);
        const out = values(() => model.forward(pairs()));
        assert.equal(out.length, items.length);
        for (const v of out) assert.ok(Number.isFinite(v));
        gradCheck(() => ops.sum(model.forward(pairs())), model.parameters(), { eps: EPS, maxElements: 4 });
      }
    }
    const bare = new DeepRanker(tiny, { numUsers: 5, numItems: 7 });
    assert.equal(bare.inputDim, 2 * 4, "ids only");
    const full = new DeepRanker(tiny, fullContext());
    assert.equal(full.inputDim, (2 + 3 + 3 + 2) * 4, "ids, 3 + 3 feature fields, 2 history fields");
  });

  test("parameters and FLOPs are positive; FLOPs grow with maxHistory, experts and cross layers", () => {
    const model = new DeepRanker(tiny, fullContext());
    assert.ok(model.parameterCount() > 0);
    assert.equal(
      model.parameterCount(),
      model.parameters().reduce((n, p) => n + p.size, 0),
    );
    const flops = (config: DeepRankerConfig): number => new DeepRanker(config, fullContext()).flopsPerItem();
    assert.ok(flops(tiny) > 0);
    assert.ok(flops({ ...tiny, maxHistory: 10 }) > flops(tiny));
    assert.ok(flops({ ...tiny, crossLayers: 3 }) > flops(tiny));
    assert.ok(flops(mmoe) > flops({ ...mmoe, experts: 1 }));
    // Without histories there is no attention to pay for, whatever maxHistory says.
    const noHistory = (maxHistory: number): number =>
      new DeepRanker({ ...tiny, maxHistory }, { numUsers: 5, numItems: 7 }).flopsPerItem();
    assert.equal(noHistory(3), noHistory(10));
  });

  test("createModel builds it from a JSON spec with defaults", () => {
    const model = createModel({ kind: "deep-ranker", embeddingDim: 4, deepSizes: [6] }, fullContext());
    assert.ok(model instanceof DeepRanker);
    assert.equal(model.kind, "deep-ranker");
    assert.deepEqual((model as DeepRanker).tasks, ["main", "conversion"]);
    assert.equal((model as DeepRanker).settings.maxHistory, 20);
    assert.throws(() => new DeepRanker({ tasks: [] }, fullContext()), /tasks/);
    assert.throws(
      () =>
        new DeepRanker(tiny, {
          numUsers: 5,
          numItems: 7,
          userFeatures: {
            ...userFeatures,
            categorical: [{ name: "region", vocabSize: 2, ids: new Int32Array([1, 2, 0, 1, 2]) }],
          },
        }),
      /region/,
    );
  });

  test("a short BPR training run with Adam lowers the loss on synthetic e-commerce data", () => {
    const data = generateEcommerce({ users: 200, items: 100, events: 5000, seed: 1 });
    const numUsers = data.users.size;
    const numItems = data.items.size;
    const history = buildUserHistories(data.interactions, numUsers);
    const context: ModelContext = {
      numUsers,
      numItems,
      userFeatures: featureInputs(data.userFeatures!),
      itemFeatures: featureInputs(data.itemFeatures!),
      histories: historyInputs(history),
    };
    const model = new DeepRanker(
      { embeddingDim: 8, maxHistory: 5, deepSizes: [16], crossLayers: 1, experts: 2, expertSizes: [8], seed: 1 },
      context,
    );
    // One sample per history position after the first: predict the next item from the items before it.
    const samples: number[] = [];
    for (let u = 0; u < numUsers; u++) {
      for (let p = history.offsets[u]! + 1; p < history.offsets[u + 1]!; p++) samples.push(p);
    }
    const rng = new Rng(7);
    const batchOf = (positions: number[]) => ({
      users: Int32Array.from(positions, (p) => userAt(history.offsets, p)),
      positives: Int32Array.from(positions, (p) => history.items[p]!),
      negatives: Int32Array.from(positions, () => rng.int(numItems)),
      historyEnd: Int32Array.from(positions),
    });
    const held = batchOf(samples.filter((_, k) => k % 5 === 0));
    const heldLoss = (): number => {
      model.eval();
      const v = noGrad(() => model.loss(held).item());
      endStep();
      model.train();
      return v;
    };
    const before = heldLoss();
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    for (let epoch = 0; epoch < 3; epoch++) {
      rng.shuffle(samples);
      for (let start = 0; start < samples.length; start += 256) {
        const loss = model.loss(batchOf(samples.slice(start, start + 256)));
        assert.ok(Number.isFinite(loss.item()));
        loss.backward();
        optimizer.step();
        endStep();
      }
    }
    const after = heldLoss();
    assert.ok(after < before - 0.05, `held-out BPR loss should drop: ${before} → ${after}`);
  });
});

/** The user whose history span contains position p. */
function userAt(offsets: Int32Array, p: number): number {
  let lo = 0;
  let hi = offsets.length - 2;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (offsets[mid]! <= p) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}
