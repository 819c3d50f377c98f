import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ids } from "../../src/engine/ops/embedding.js";
import { Adam } from "../../src/engine/optim.js";
import { Rng } from "../../src/engine/random.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import { createModel, isDotProduct, isSequenceModel, sequenceWindows } from "../../src/models/index.js";
import { VectorScorer } from "../../src/models/dot-product.js";
import { SASRec, type SASRecConfig } from "../../src/models/sasrec.js";
import type { ModelContext } from "../../src/models/context.js";
import { PopularityProposal, sequenceLoss } from "../../src/train/sequence.js";
import { gradCheck } from "../helpers/gradcheck.js";
import { forwardOne, tinyContext } from "../helpers/models.js";

function tiny(config: SASRecConfig = {}, context: ModelContext = tinyContext()): SASRec {
  return new SASRec({ dim: 4, blocks: 2, heads: 2, maxLength: 4, dropout: 0, seed: 5, ...config }, context);
}

/** A context of `users` users each walking the catalogue in a cycle of `items`: item i is always followed by i + 1. */
function cycleContext(users: number, items: number, length: number): ModelContext {
  const offsets = new Int32Array(users + 1);
  const all: number[] = [];
  for (let u = 0; u < users; u++) {
    for (let t = 0; t < length; t++) all.push((u * 3 + t) % items);
    offsets[u + 1] = all.length;
  }
  return { numUsers: users, numItems: items, histories: { offsets, items: Int32Array.from(all) } };
}

describe("SASRec", () => {
  test("is a dot-product and a sequence model from the zoo", () => {
    const model = createModel({ kind: "sasrec", dim: 4, maxLength: 3 }, tinyContext());
    assert.ok(model instanceof SASRec);
    assert.ok(isDotProduct(model) && isSequenceModel(model));
    assert.equal(model.historyLength, 3);
    assert.equal(model.representationDim, 8);
  });

  test("rejects settings that cannot build", () => {
    assert.throws(() => tiny({ heads: 3 }), /3 heads do not divide dim 4/);
    assert.throws(() => tiny({ dropout: 1 }), /dropout must be in \[0, 1\)/);
    assert.throws(() => tiny({ blocks: 0 }), /blocks must be a positive integer/);
    assert.throws(() => tiny({ activation: "swish" as "relu" }), /activation must be "relu" or "gelu"/);
  });

  test("causal: a position's state ignores every later item, and padding ignores the items' ids", () => {
    const model = tiny();
    model.eval();
    const states = (items: number[]) => noGrad(() => model.sequenceStates(Int32Array.from(items), 1).toArray());
    const a = states([-1, 2, 5, 1]);
    const b = states([-1, 2, 5, 6]);
    assert.deepEqual(a.slice(0, 12), b.slice(0, 12), "positions 0..2 do not see position 3");
    assert.notDeepEqual(a.slice(12), b.slice(12));
    endStep();
  });

  test("a window without its leading padding, asked at its last positions, gives the full window's states", () => {
    const model = tiny();
    model.eval();
    const full = noGrad(() => model.sequenceStates(Int32Array.from([-1, 3, 5, 1, -1, -1, 2, 6]), 2).toArray());
    // Cut to length 3 (the longer sequence's), asked at the last two positions: rows 2, 3 and 6, 7 of the full.
    const cut = noGrad(() => model.sequenceStates(Int32Array.from([3, 5, 1, -1, 2, 6]), 2, 2).toArray());
    const want = [...full.slice(8, 16), ...full.slice(24, 32)];
    cut.forEach((v, j) => assert.ok(Math.abs(v - want[j]!) < 1e-5, `state ${j}: ${v} vs ${want[j]}`));
    assert.throws(() => model.sequenceStates(new Int32Array(10), 2), /10 sequence items are not 2 sequences/);
    assert.throws(() => model.sequenceStates(new Int32Array(6), 2, 4), /queries must be an integer in 1..3/);
    endStep();
  });

  test("a user's vector is the last state of their left-padded window, the same alone or in a batch", () => {
    const model = tiny();
    model.eval();
    const history = { ids: new Int32Array([0, 6, 3, 5, 1, 2, 6]), offsets: new Int32Array([0, 2]) };
    const both = noGrad(() => model.userVectors(new Ids(new Int32Array([0, 1])), history).toArray());
    const first = noGrad(() =>
      model.userVectors(new Ids(new Int32Array([0])), { ids: new Int32Array([0, 6]), offsets: new Int32Array(1) }),
    ).toArray();
    const window = noGrad(() =>
      model
        .sequenceStates(Int32Array.from([-1, -1, 0, 6]), 1)
        .toArray()
        .slice(12),
    );
    for (let j = 0; j < 4; j++) {
      assert.ok(Math.abs(both[j]! - first[j]!) < 1e-5);
      assert.ok(Math.abs(first[j]! - window[j]!) < 1e-5);
    }
    // The second history holds five items; only its last four (maxLength) count.
    const second = noGrad(() =>
      model.userVectors(new Ids(new Int32Array([1])), {
        ids: new Int32Array([5, 1, 2, 6]),
        offsets: new Int32Array(1),
      }),
    ).toArray();
    for (let j = 0; j < 4; j++) assert.ok(Math.abs(both[4 + j]! - second[j]!) < 1e-5);
    endStep();
  });

  for (const [kind, sampler] of [
    ["bce", undefined],
    ["softmax", "uniform"],
    ["softmax", "popularity"],
  ] as const) {
    test(`${kind} ${sampler ?? ""} next-item loss: gradients of every parameter match finite differences`, () => {
      const model = tiny({ activation: "gelu" });
      const users = new Int32Array([0, 3]);
      const windows = sequenceWindows(model.context.histories!, users, new Int32Array([3, 9]), 4);
      // Fixed negatives, so that the loss is a function of the parameters alone.
      const draws = [4, 0, 6, 5, 3, 1];
      let d = 0;
      const loss = () => {
        d = 0;
        return sequenceLoss(
          model,
          users,
          windows.inputs,
          windows.targets,
          () => draws[d++ % draws.length]!,
          new Rng(1),
          {
            kind,
            negatives: 3,
          },
          // The same shared draws every call (a fresh generator), corrected by their popularity.
          sampler === "popularity" ? new PopularityProposal(model.context.histories!, model.numItems) : undefined,
        )!;
      };
      gradCheck(loss, model.parameters(), { eps: 3e-3, maxElements: 12 });
    });
  }

  test("windows: the user's last items as targets, each one's predecessor as input, left-padded", () => {
    const histories = tinyContext().histories!; // user 3: items 3, 5, 1, 2 at rows 5..8
    const w = sequenceWindows(histories, new Int32Array([3, 3, 2]), new Int32Array([9, 7, 5]), 4);
    assert.deepEqual(Array.from(w.targets.subarray(0, 4)), [-1, 5, 1, 2]);
    assert.deepEqual(Array.from(w.inputs.subarray(0, 4)), [-1, 3, 5, 1]);
    assert.deepEqual(Array.from(w.targets.subarray(4, 8)), [-1, -1, -1, 5], "ends before row 7");
    assert.deepEqual(Array.from(w.targets.subarray(8)), [-1, -1, -1, -1], "no history");
  });

  test("the scorer scores like forward, with the training history or an explicit one", () => {
    const model = tiny();
    model.eval();
    const scorer = model.scorer();
    assert.ok(scorer instanceof VectorScorer);
    const all = scorer.scoreAll({ user: 3 });
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(all[i]! - forwardOne(model, 3, i)) < 1e-4, `item ${i}`);
    const history = new Int32Array([6, 0]);
    const live = scorer.scoreAll({ user: 3, history });
    for (let i = 0; i < 7; i++) assert.ok(Math.abs(live[i]! - forwardOne(model, 3, i, history)) < 1e-4);
    assert.notDeepEqual(Array.from(live), Array.from(all), "a new history changes the answer");
    scorer.dispose();
  });

  test("learns an order a bag of items cannot show: after item i comes item i + 1", () => {
    const items = 12;
    const context = cycleContext(40, items, 10);
    const model = new SASRec({ dim: 16, blocks: 1, heads: 1, maxLength: 6, dropout: 0, seed: 2 }, context);
    const optimizer = new Adam(model.parameters(), { lr: 0.01 });
    const users = Int32Array.from({ length: 40 }, (_, u) => u);
    const ends = Int32Array.from({ length: 40 }, (_, u) => context.histories!.offsets[u + 1]!);
    const windows = sequenceWindows(context.histories!, users, ends, 6);
    const rng = new Rng(3);
    for (let step = 0; step < 150; step++) {
      sequenceLoss(model, users, windows.inputs, windows.targets, () => rng.int(items), rng, {
        kind: "softmax",
        negatives: 8,
      })!.backward();
      optimizer.step();
      endStep();
    }
    model.eval();
    const scorer = model.scorer();
    let hits = 0;
    for (let start = 0; start < items; start++) {
      // Histories the model never saw as such: three consecutive items from `start`.
      const history = Int32Array.from([start, (start + 1) % items, (start + 2) % items]);
      const scores = scorer.scoreAll({ user: 0, history });
      const best = scores.indexOf(Math.max(...scores));
      if (best === (start + 3) % items) hits++;
    }
    scorer.dispose();
    assert.ok(hits >= 10, `next item ranked first for ${hits} of ${items} histories`);
  });
});
