import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { concat, evaluateModel, feasibleLabelNegatives, prepareData } from "../../src/distill/pipeline.js";
import { createModel } from "../../src/models/index.js";
import type { Scorer, UserQuery } from "../../src/models/recommender.js";

const dataset = generateEcommerce({ users: 120, items: 80, events: 3000, seed: 4 });
const prepared = prepareData(dataset);
const { train, valid, test: testRows, context } = prepared;
const evaluation = { negatives: 20, validationNegatives: 20, ks: [10], fullRanking: true };

/** The items of `user` in a log, in log order. */
function itemsOf(log: typeof train, user: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < log.length; r++) if (log.users[r] === user) out.push(log.items[r]!);
  return out;
}

describe("prepareData", () => {
  test("the context holds train histories; test histories add the validation item last", () => {
    for (let r = 0; r < valid.length; r++) {
      const user = valid.users[r]!;
      const trainHistory = Array.from(prepared.histories.recent(user, Infinity));
      const testHistory = Array.from(prepared.testHistories.recent(user, Infinity));
      assert.deepEqual(trainHistory.slice().sort(), itemsOf(train, user).sort());
      assert.deepEqual(testHistory.slice(0, -1), trainHistory);
      assert.equal(testHistory.at(-1), valid.items[r]);
    }
  });

  test("no test interaction is model input: histories hold train (+ validation) rows, all before the test time", () => {
    for (let r = 0; r < testRows.length; r++) {
      const user = testRows.users[r]!;
      assert.equal(prepared.histories.length(user), itemsOf(train, user).length);
      assert.equal(prepared.testHistories.length(user), itemsOf(train, user).length + itemsOf(valid, user).length);
      const h = prepared.testHistories;
      for (const t of h.timestamps.subarray(h.offsets[user]!, h.offsets[user + 1]!))
        assert.ok(t <= testRows.timestamps[r]!);
    }
  });

  test("concat keeps every row of both logs, first then second", () => {
    const both = concat(train, valid);
    assert.equal(both.length, train.length + valid.length);
    assert.deepEqual(Array.from(both.items.subarray(train.length)), Array.from(valid.items));
    assert.deepEqual(Array.from(both.users.subarray(0, train.length)), Array.from(train.users));
  });

  test("feasibleLabelNegatives leaves room for the top-K beside the busiest user's items", () => {
    let maxSeen = 0;
    for (let u = 0; u < context.numUsers; u++) maxSeen = Math.max(maxSeen, prepared.trainSeen.count(u));
    assert.equal(feasibleLabelNegatives(prepared, 10, 5), Math.min(5, context.numItems - maxSeen - 11));
    assert.equal(feasibleLabelNegatives(prepared, 10, 10_000), context.numItems - maxSeen - 11);
  });
});

describe("evaluateModel", () => {
  /** A model whose scorer records the queries it gets. */
  function spied() {
    const model = createModel({ kind: "bpr-mf", dim: 4, seed: 1 }, context);
    const queries: UserQuery[] = [];
    const inner = model.scorer();
    const scorer: Scorer = {
      scoreAll: (q) => (queries.push(q), inner.scoreAll(q)),
      scoreCandidates: (q, items) => (queries.push(q), inner.scoreCandidates(q, items)),
    };
    model.scorer = () => scorer;
    return { model, queries };
  }

  test("history-aware scoring reads train + validation items as the user's past", () => {
    const { model, queries } = spied();
    const metrics = evaluateModel(
      model,
      testRows,
      prepared.testSeen,
      context.numItems,
      evaluation,
      0,
      prepared.testHistories,
    );
    assert.equal(queries.length, 2 * testRows.length); // sampled, then full ranking
    for (const q of queries) {
      assert.deepEqual(Array.from(q.history!), Array.from(prepared.testHistories.recent(q.user, Infinity)));
    }
    assert.ok(metrics["NDCG@10"]! >= 0 && metrics["full:NDCG@10"]! >= 0);
    assert.equal(metrics.count, undefined);
  });

  test("without histories the model's own context is used", () => {
    const { model, queries } = spied();
    evaluateModel(model, testRows, prepared.testSeen, context.numItems, { ...evaluation, fullRanking: false }, 0);
    assert.equal(queries.length, testRows.length);
    for (const q of queries) assert.equal(q.history, undefined);
  });
});
