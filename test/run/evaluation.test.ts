import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { prepareData } from "../../src/run/data.js";
import { FIDELITY_USERS, evaluateModel, fidelityMetrics, popularityReference } from "../../src/run/evaluation.js";
import { createModel } from "../../src/models/index.js";
import type { Scorer, UserQuery } from "../../src/models/recommender.js";

const dataset = generateEcommerce({ users: 120, items: 80, events: 3000, seed: 4 });
const prepared = prepareData(dataset);
const { test: testRows, context } = prepared;
const evaluation = { negatives: 20, validationNegatives: 20, ks: [10], fullRanking: true };

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
    const metrics = evaluateModel(model, prepared.testSet, evaluation, 0);
    assert.equal(queries.length, 3 * testRows.length); // sampled, full ranking, then the main head's classification
    for (const q of queries) {
      assert.deepEqual(Array.from(q.history!), Array.from(prepared.testSet.histories!.recent(q.user, Infinity)));
    }
    assert.ok(metrics["NDCG@10"]! >= 0 && metrics["full:NDCG@10"]! >= 0);
    assert.equal(metrics.count, undefined);
  });

  test("without histories the model's own context is used", () => {
    const { model, queries } = spied();
    const testSet = { ...prepared.testSet, histories: undefined };
    evaluateModel(model, testSet, { ...evaluation, fullRanking: false }, 0);
    assert.equal(queries.length, 2 * testRows.length);
    for (const q of queries) assert.equal(q.history, undefined);
  });
});

describe("test segments", () => {
  test("evaluateModel reports sampled NDCG and HR per segment, each segmentation covering every test case", () => {
    const model = createModel({ kind: "bpr-mf", dim: 4, seed: 1 }, context);
    const metrics = evaluateModel(model, prepared.testSet, { ...evaluation, fullRanking: false }, 0);
    const count = (segment: string) => metrics[`segment:${segment}:count`]!;
    assert.equal(count("cold users") + count("warm users"), testRows.length);
    assert.equal(count("head items") + count("long-tail items"), testRows.length);
    for (const segment of ["cold users", "warm users", "head items", "long-tail items"]) {
      for (const metric of ["NDCG@10", "HR@10"]) {
        const value = metrics[`segment:${segment}:${metric}`]!;
        assert.ok(value >= 0 && value <= 1, `${segment} ${metric}`);
      }
    }
    // The overall value is the case-weighted mean of a segmentation's values.
    const weighted =
      (metrics["segment:cold users:HR@10"]! * count("cold users") +
        metrics["segment:warm users:HR@10"]! * count("warm users")) /
      testRows.length;
    assert.ok(Math.abs(weighted - metrics["HR@10"]!) < 1e-9);
  });
});

describe("beyond accuracy and the popularity reference", () => {
  const BEYOND = ["Coverage", "Gini", "LongTailShare", "Novelty", "LongTailNDCG"];

  test("full ranking adds coverage, Gini, long-tail share, novelty and long-tail NDCG at every k", () => {
    const model = createModel({ kind: "bpr-mf", dim: 4, seed: 1 }, context);
    const metrics = evaluateModel(model, prepared.testSet, { ...evaluation, ks: [5, 10] }, 0);
    for (const name of BEYOND) {
      for (const k of [5, 10]) assert.ok(Number.isFinite(metrics[`full:${name}@${k}`]), `full:${name}@${k}`);
    }
    for (const name of ["Coverage", "Gini", "LongTailShare"]) {
      const value = metrics[`full:${name}@10`]!;
      assert.ok(value >= 0 && value <= 1, `${name} ${value}`);
    }
    // A top 10 reaches at least the 10 items of one list; a wider cut-off reaches at least as many.
    assert.ok(metrics["full:Coverage@10"]! * context.numItems >= 10);
    assert.ok(metrics["full:Coverage@10"]! >= metrics["full:Coverage@5"]!);
    const sampledOnly = evaluateModel(model, prepared.testSet, { ...evaluation, fullRanking: false }, 0);
    for (const name of BEYOND) assert.equal(sampledOnly[`full:${name}@10`], undefined);
  });

  test("the popularity reference has a model's ranking metrics, and concentrates on the head", () => {
    const model = createModel({ kind: "bpr-mf", dim: 4, seed: 1 }, context);
    const modelMetrics = evaluateModel(model, prepared.testSet, evaluation, 0);
    const reference = popularityReference(prepared.testSet, evaluation, 0);
    assert.equal(reference.name, "popularity");
    // Everything but the task heads (the reference has none).
    assert.deepEqual(
      Object.keys(reference.metrics).sort(),
      Object.keys(modelMetrics)
        .filter((k) => !k.startsWith("main:"))
        .sort(),
    );
    // Popular items for everyone: most slots go to the head.
    assert.ok(reference.metrics["full:LongTailShare@10"]! < 0.5);
    assert.deepEqual(popularityReference(prepared.testSet, evaluation, 0), reference);
  });
});

describe("fidelityMetrics", () => {
  test("a model is perfectly faithful to itself and less so to another", () => {
    const teacher = createModel({ kind: "bpr-mf", dim: 8, seed: 1 }, context);
    const other = createModel({ kind: "bpr-mf", dim: 8, seed: 2 }, context);
    assert.deepEqual(fidelityMetrics(teacher, teacher, prepared.testSet, 0), {
      "fidelity:overlap@10": 1,
      "fidelity:spearman": 1,
      "fidelity:kendall": 1,
    });
    const metrics = fidelityMetrics(teacher, other, prepared.testSet, 0);
    assert.ok(metrics["fidelity:overlap@10"]! < 1 && metrics["fidelity:kendall"]! < 0.5);
  });

  test("scores a fixed sample of at most FIDELITY_USERS test users, with their test histories", () => {
    const teacher = createModel({ kind: "bpr-mf", dim: 8, seed: 1 }, context);
    const queries: UserQuery[] = [];
    const inner = teacher.scorer();
    teacher.scorer = () => ({
      scoreAll: (q) => (queries.push(q), inner.scoreAll(q)),
      scoreCandidates: (q, items) => inner.scoreCandidates(q, items),
    });
    fidelityMetrics(teacher, teacher, prepared.testSet, 0);
    const first = queries.map((q) => q.user);
    assert.equal(first.length, Math.min(FIDELITY_USERS, testRows.length) * 2); // teacher and student
    for (const q of queries) {
      assert.deepEqual(Array.from(q.history!), Array.from(prepared.testSet.histories!.recent(q.user, Infinity)));
    }
    queries.length = 0;
    fidelityMetrics(teacher, teacher, prepared.testSet, 0);
    assert.deepEqual(
      queries.map((q) => q.user),
      first,
    );
  });
});
