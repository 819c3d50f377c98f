import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { distill } from "../../src/distill/distill.js";
import { generateSoftLabels } from "../../src/distill/soft-labels.js";
import { PopularityProposal, sequenceHardLoss, sequenceObjective, sequenceSamples } from "../../src/train/sequence.js";
import { Rng } from "../../src/engine/random.js";
import { createModel } from "../../src/models/zoo.js";
import { endStep, noGrad } from "../../src/engine/tensor.js";
import { train } from "../../src/train/trainer.js";
import type { ModelSpec } from "../../src/models/zoo.js";
import { makeValidator, NUM_ITEMS, NUM_USERS, options, shop } from "./fixture.js";

const sasrec: ModelSpec = { kind: "sasrec", dim: 16, blocks: 1, heads: 2, maxLength: 10, dropout: 0.1, seed: 2 };

describe("next-item training", () => {
  test("an epoch visits each user with two or more training rows once, at their last row", () => {
    const samples = sequenceSamples(shop.context.histories!);
    const { offsets } = shop.context.histories!;
    const users = new Set<number>();
    for (const s of samples) {
      const user = shop.data.users[s]!;
      assert.equal(s, offsets[user + 1]! - 1, `sample ${s} is user ${user}'s last row`);
      users.add(user);
    }
    const eligible = Array.from({ length: NUM_USERS }, (_, u) => u).filter((u) => offsets[u + 1]! - offsets[u]! >= 2);
    assert.equal(users.size, samples.length);
    assert.deepEqual(
      [...users].sort((a, b) => a - b),
      eligible,
    );
  });

  for (const [kind, sampler] of [
    ["bce", undefined],
    ["softmax", "uniform"],
    ["softmax", "popularity"],
  ] as const) {
    test(`${kind} ${sampler ?? ""}: SASRec's loss falls and validation rises well above its start`, async () => {
      const validate = makeValidator();
      const objective = sequenceObjective(
        shop.context.histories!,
        { kind, negatives: 50, ...(sampler ? { sampler } : {}) },
        3,
      );
      const result = await train(
        options({ model: sasrec, objective, epochs: 8, batchSize: 32, lr: 0.005, validate, patience: 8 }),
      );
      const first = result.history[0]!;
      const best = result.bestMetrics["NDCG@10"]!;
      assert.ok(result.history.at(-1)!.loss < first.loss, `loss ${first.loss} → ${result.history.at(-1)!.loss}`);
      assert.ok(best > first.metrics["NDCG@10"]! + 0.05, `NDCG@10 ${first.metrics["NDCG@10"]} → ${best}`);
    });
  }

  test("softmax: a batch's shared negatives follow its optimiser step, not the thread that holds it", () => {
    const model = createModel({ ...sasrec, dropout: 0 }, shop.context);
    const settings = { kind: "softmax" as const, negatives: 20, seed: 3 };
    const [first, second] = [0, 1].map((thread) => sequenceHardLoss(shop.context, model, settings, thread));
    const samples = sequenceSamples(shop.context.histories!).subarray(0, 16);
    const batch = (step: number) => ({
      users: Int32Array.from(samples, (s) => shop.data.users[s]!),
      positives: Int32Array.from(samples, (s) => shop.data.positives[s]!),
      negatives: Int32Array.from(samples, (s) => shop.data.negatives[s]!),
      historyEnd: Int32Array.from(samples, (s) => shop.data.historyEnd[s]!),
      step,
    });
    const loss = (of: typeof first, step: number) => noGrad(() => of!(batch(step))!.item());
    assert.equal(loss(first, 5), loss(second, 5));
    assert.notEqual(loss(first, 5), loss(first, 6));
    endStep();
  });

  test("popularity draws: each item in proportion to its training interactions plus one", () => {
    // Item 0 three times, item 2 once, items 1 and 3 never: weights 4, 1, 2, 1.
    const histories = { offsets: Int32Array.from([0, 2, 4]), items: Int32Array.from([0, 0, 2, 0]) };
    const proposal = new PopularityProposal(histories, 4);
    assert.deepEqual(
      Array.from(proposal.logProbability, (l) => Number(Math.exp(l).toFixed(6))),
      [0.5, 0.125, 0.25, 0.125],
    );
    const rng = new Rng(9);
    const counts = new Float64Array(4);
    const draws = 40_000;
    for (let k = 0; k < draws; k++) counts[proposal.draw(rng)]!++;
    for (let i = 0; i < 4; i++) {
      const expected = Math.exp(proposal.logProbability[i]!);
      assert.ok(Math.abs(counts[i]! / draws - expected) < 0.01, `item ${i}: ${counts[i]! / draws} vs ${expected}`);
    }
  });

  test("logQ correction: the corrected draws estimate the whole catalogue's partition function", () => {
    const proposal = new PopularityProposal(shop.context.histories!, NUM_ITEMS);
    const logits = Float64Array.from({ length: NUM_ITEMS }, (_, i) => Math.sin(i) * 2);
    const full = logits.reduce((sum, s) => sum + Math.exp(s), 0);
    const rng = new Rng(4);
    const K = 200;
    let estimate = 0;
    const rounds = 200;
    for (let r = 0; r < rounds; r++) {
      for (let k = 0; k < K; k++) {
        const item = proposal.draw(rng);
        estimate += Math.exp(logits[item]! - Math.log(K) - proposal.logProbability[item]!);
      }
    }
    estimate /= rounds;
    assert.ok(Math.abs(estimate / full - 1) < 0.05, `estimate ${estimate} vs ${full}`);
  });

  test("needs a sequence model, and a known loss", async () => {
    const objective = sequenceObjective(shop.context.histories!, { kind: "bce" }, 0);
    await assert.rejects(train(options({ objective })), /needs a sequence model such as sasrec, not bpr-mf/);
    assert.throws(
      () => sequenceObjective(shop.context.histories!, { kind: "hinge" as "bce" }, 0),
      /unknown sequence loss "hinge"/,
    );
    assert.throws(
      () => sequenceObjective(shop.context.histories!, { kind: "softmax", sampler: "zipf" as "uniform" }, 0),
      /unknown negative sampler "zipf"/,
    );
  });

  test("a distilled sequence student: next-item hard term plus listwise soft labels, each list once per epoch", async () => {
    const teacherRun = await train(
      options({ model: sasrec, objective: sequenceObjective(shop.context.histories!, { kind: "softmax" }, 1) }),
    );
    const users = Int32Array.from({ length: NUM_USERS }, (_, u) => u);
    const softLabels = generateSoftLabels(teacherRun.model, {
      users,
      seen: shop.seen,
      negatives: 20,
      topK: 10,
      seed: 1,
      numItems: NUM_ITEMS,
    });
    const tiny: ModelSpec = { kind: "sasrec", dim: 8, blocks: 1, heads: 1, maxLength: 10, dropout: 0, seed: 4 };
    const run = (weights: Record<string, number>) =>
      distill({
        ...options({ model: tiny, epochs: 2, batchSize: 32, lr: 0.005 }),
        weights,
        softLabels,
        sequence: { kind: "softmax", negatives: 50 },
      });
    const hard = await run({ hard: 1 });
    const soft = await run({ hard: 1, listwise: 10, temperature: 2 });
    // Same samples per epoch (one per user); the soft terms add to the loss the student follows.
    assert.equal(hard.history[0]!.samplesPerSecond > 0, true);
    assert.ok(soft.history[0]!.loss > hard.history[0]!.loss, `${soft.history[0]!.loss} vs ${hard.history[0]!.loss}`);
    const a = hard.model.parameters()[0]!.data;
    const b = soft.model.parameters()[0]!.data;
    assert.ok(
      a.some((x, i) => x !== b[i]),
      "the soft terms change what the student learns",
    );
    await assert.rejects(
      distill({ ...options({ model: tiny }), weights: { hard: 0.5 }, sequence: { kind: "bce" } }),
      /next-item training takes no hard-label weights of its own/,
    );
  });
});
