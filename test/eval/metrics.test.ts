import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  MetricAccumulator,
  auc,
  averageRanks,
  binaryMetrics,
  gauc,
  kendallTau,
  logLoss,
  rankMetrics,
  spearman,
  topK,
  topKMetrics,
  topKOverlap,
} from "../../src/eval/metrics.js";

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

/** A seeded LCG for test data (independent of the code under test). */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 4294967296;
  };
}

describe("rankMetrics", () => {
  test("rank 0 scores 1, rank 3 scores 1/log2(5), ranks beyond k score 0", () => {
    const m = rankMetrics([0, 3, 25], [1, 10]);
    close(m["HR@1"]!, 1 / 3);
    close(m["NDCG@1"]!, 1 / 3);
    close(m["HR@10"]!, 2 / 3);
    close(m["NDCG@10"]!, (1 + 1 / Math.log2(5)) / 3);
    close(m["MRR@10"]!, (1 + 1 / 4) / 3);
    close(m["MRR"]!, (1 + 1 / 4 + 1 / 26) / 3);
    close(m["Recall@10"]!, m["HR@10"]!);
    close(m["Precision@10"]!, m["HR@10"]! / 10);
  });

  test("accepts an Int32Array and gives zeros for no users", () => {
    close(rankMetrics(new Int32Array([9, 10]), [10])["HR@10"]!, 0.5);
    assert.deepEqual(rankMetrics([], [5]), {
      "HR@5": 0,
      "NDCG@5": 0,
      "MRR@5": 0,
      "Recall@5": 0,
      "Precision@5": 0,
      MRR: 0,
    });
  });
});

describe("topKMetrics", () => {
  for (const [kind, relevant] of [
    ["Set", new Set([1, 2, 9])],
    ["sorted Int32Array", new Int32Array([1, 2, 9])],
  ] as const) {
    test(`normalises DCG by the ideal DCG (${kind})`, () => {
      const ranked = new Int32Array([5, 1, 7, 2]);
      const idealOf3 = 1 + 1 / Math.log2(3) + 1 / Math.log2(4);
      const at3 = topKMetrics(ranked, relevant, 3);
      assert.equal(at3.hit, 1);
      close(at3.ndcg, 1 / Math.log2(3) / idealOf3);
      close(at3.recall, 1 / 3);
      close(at3.precision, 1 / 3);
      close(at3.rr, 1 / 2);
      const at4 = topKMetrics(ranked, relevant, 4);
      close(at4.ndcg, (1 / Math.log2(3) + 1 / Math.log2(5)) / idealOf3);
      close(at4.recall, 2 / 3);
      close(at4.precision, 2 / 4);
      const at1 = topKMetrics(ranked, relevant, 1);
      assert.deepEqual(at1, { hit: 0, ndcg: 0, recall: 0, precision: 0, rr: 0 });
    });
  }

  test("the ideal ordering has NDCG 1 even when fewer relevant items than k", () => {
    const m = topKMetrics(new Int32Array([4, 8, 0, 1]), new Set([4, 8]), 4);
    close(m.ndcg, 1);
    close(m.recall, 1);
    close(m.precision, 0.5);
  });

  test("no relevant items gives zeros", () => {
    assert.deepEqual(topKMetrics(new Int32Array([1, 2]), new Set<number>(), 2), {
      hit: 0,
      ndcg: 0,
      recall: 0,
      precision: 0,
      rr: 0,
    });
  });
});

describe("MetricAccumulator", () => {
  test("averages overall and per segment", () => {
    const acc = new MetricAccumulator();
    acc.add({ hr: 1, ndcg: 0.5 }, "warm");
    acc.add({ hr: 0, ndcg: 0 }, "cold");
    acc.add({ hr: 1, ndcg: 1 }, "warm");
    acc.add({ hr: 0, ndcg: 0 });
    assert.equal(acc.count, 4);
    assert.deepEqual(acc.result(), { hr: 0.5, ndcg: 0.375 });
    assert.deepEqual(acc.segments(), { warm: { hr: 1, ndcg: 0.75 }, cold: { hr: 0, ndcg: 0 } });
  });
});

/** AUC by counting pairs, ties one half. */
function pairwiseAuc(scores: number[], labels: number[]): number {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    for (let j = 0; j < scores.length; j++) {
      if (labels[i] !== 1 || labels[j] !== 0) continue;
      pairs++;
      wins += scores[i]! > scores[j]! ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return wins / pairs;
}

describe("classification metrics", () => {
  test("average ranks share ties", () => {
    assert.deepEqual(Array.from(averageRanks([3, 1, 3, 2])), [3.5, 1, 3.5, 2]);
  });

  test("AUC: perfect, inverse, constant, a hand-computed case and ties", () => {
    assert.equal(auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]), 1);
    assert.equal(auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]), 0);
    assert.equal(auc([0.5, 0.5, 0.5, 0.5], [0, 1, 0, 1]), 0.5);
    close(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1]), 0.75);
    close(auc([0.5, 0.5, 0.2, 0.9], [1, 0, 0, 1]), 3.5 / 4);
    assert.ok(Number.isNaN(auc([0.1, 0.2], [1, 1])));
  });

  test("AUC agrees with pair counting on random tied scores", () => {
    const random = lcg(7);
    const scores = Array.from({ length: 60 }, () => Math.floor(random() * 8));
    const labels = Array.from({ length: 60 }, () => (random() < 0.4 ? 1 : 0));
    close(auc(scores, labels), pairwiseAuc(scores, labels), 1e-12);
  });

  test("GAUC weights groups by size and skips single-class groups", () => {
    const scores = [0.9, 0.1, 0.5, 0.2, 0.8, 0.3, 0.4];
    const labels = [1, 0, 0, 1, 0, 1, 1];
    const groups = [0, 0, 0, 1, 1, 2, 2];
    close(gauc(scores, labels, groups), (1 * 3 + 0 * 2) / 5);
    assert.ok(Number.isNaN(gauc([0.1, 0.2], [1, 1], [0, 0])));
  });

  test("log loss of probabilities, clipped", () => {
    close(logLoss([0.9, 0.2], [1, 0]), -(Math.log(0.9) + Math.log(0.8)) / 2);
    close(logLoss([0], [1]), -Math.log(1e-7), 1e-6);
    assert.ok(Number.isFinite(logLoss([1, 0], [0, 1])));
  });

  test("accuracy, precision, recall, F1 at a threshold", () => {
    // predicted [1, 1, 0, 0, 1]: tp = 2, fp = 1, fn = 1, tn = 1.
    const m = binaryMetrics([0.9, 0.6, 0.4, 0.2, 0.7], [1, 0, 1, 0, 1], 0.5);
    close(m.accuracy, 3 / 5);
    close(m.precision, 2 / 3);
    close(m.recall, 2 / 3);
    close(m.f1, 2 / 3);
    const strict = binaryMetrics([0.9, 0.6, 0.4, 0.2, 0.7], [1, 0, 1, 0, 1], 0.8);
    close(strict.precision, 1);
    close(strict.recall, 1 / 3);
    close(strict.f1, (2 * 1 * (1 / 3)) / (1 + 1 / 3));
    assert.deepEqual(binaryMetrics([0.1, 0.2], [1, 0]), { accuracy: 0.5, precision: 0, recall: 0, f1: 0 });
  });
});

/** Kendall's tau-b by comparing every pair. */
function pairwiseKendall(a: number[], b: number[]): number {
  let concordant = 0;
  let discordant = 0;
  let onlyA = 0;
  let onlyB = 0;
  for (let i = 0; i < a.length; i++) {
    for (let j = i + 1; j < a.length; j++) {
      const da = Math.sign(a[i]! - a[j]!);
      const db = Math.sign(b[i]! - b[j]!);
      if (da === 0 && db === 0) continue;
      if (da === 0) onlyA++;
      else if (db === 0) onlyB++;
      else if (da === db) concordant++;
      else discordant++;
    }
  }
  return (concordant - discordant) / Math.sqrt((concordant + discordant + onlyA) * (concordant + discordant + onlyB));
}

describe("rank correlations", () => {
  test("Spearman: identical 1, reversed -1, monotone transform 1, a hand-computed case", () => {
    const a = [0.3, 1.2, -0.5, 4, 2.2];
    close(spearman(a, a), 1);
    close(
      spearman(
        a,
        a.map((x) => -x),
      ),
      -1,
    );
    close(
      spearman(
        a,
        a.map((x) => Math.exp(x)),
      ),
      1,
    );
    // d = [0, 1, 1, 0]: 1 - 6·2 / (4·15).
    close(spearman([1, 2, 3, 4], [1, 3, 2, 4]), 0.8);
    assert.ok(Number.isNaN(spearman([1, 1, 1], [1, 2, 3])));
  });

  test("Kendall: identical 1, reversed -1, one swapped pair", () => {
    const a = [5, 1, 4, 2, 3];
    close(kendallTau(a, a), 1);
    close(
      kendallTau(
        a,
        a.map((x) => -x),
      ),
      -1,
    );
    // 5 concordant, 1 discordant pair.
    close(kendallTau([1, 2, 3, 4], [1, 3, 2, 4]), 4 / 6);
    assert.ok(Number.isNaN(kendallTau([2, 2, 2], [1, 2, 3])));
  });

  test("Kendall tau-b agrees with pair counting on random data with ties", () => {
    const random = lcg(11);
    for (const n of [9, 64, 301]) {
      const a = Array.from({ length: n }, () => Math.floor(random() * 6));
      const b = a.map((x) => (random() < 0.5 ? x : Math.floor(random() * 6)));
      close(kendallTau(a, b), pairwiseKendall(a, b), 1e-12);
    }
  });
});

/** Top k by a full sort: score descending, index ascending, NaN last. */
function sortedTopK(scores: Float32Array, k: number, excluded: (i: number) => boolean = () => false): number[] {
  const value = (i: number) => (Number.isNaN(scores[i]!) ? -Infinity : scores[i]!);
  return Array.from(scores.keys())
    .filter((i) => !excluded(i))
    .sort((i, j) => value(j) - value(i) || i - j)
    .slice(0, k);
}

describe("topK", () => {
  test("matches a full sort, ties to the lower index", () => {
    const random = lcg(3);
    const scores = Float32Array.from({ length: 500 }, () => Math.floor(random() * 40));
    for (const k of [1, 10, 37, 500]) assert.deepEqual(Array.from(topK(scores, k)), sortedTopK(scores, k));
  });

  test("honours an exclusion mask or predicate", () => {
    const random = lcg(5);
    const scores = Float32Array.from({ length: 200 }, () => random());
    const mask = Uint8Array.from({ length: 200 }, () => (random() < 0.3 ? 1 : 0));
    const expected = sortedTopK(scores, 15, (i) => mask[i] === 1);
    assert.deepEqual(Array.from(topK(scores, 15, mask)), expected);
    assert.deepEqual(Array.from(topK(scores, 15, (i) => mask[i] === 1)), expected);
  });

  test("returns fewer ids when fewer items are allowed; k = 0 is empty; NaN ranks last", () => {
    const scores = new Float32Array([0.5, NaN, 2, -1]);
    assert.deepEqual(Array.from(topK(scores, 10)), [2, 0, 3, 1]);
    assert.deepEqual(Array.from(topK(scores, 10, new Uint8Array([1, 0, 1, 0]))), [3, 1]);
    assert.equal(topK(scores, 0).length, 0);
  });

  test("topKOverlap counts the shared top-K items", () => {
    const a = new Float32Array([9, 8, 7, 1, 0]);
    const b = new Float32Array([9, 0, 1, 8, 7]);
    close(topKOverlap(a, b, 3), 1 / 3); // {0, 1, 2} vs {0, 3, 4}
    close(topKOverlap(a, a, 3), 1);
    close(topKOverlap(a, b, 1), 1);
    close(topKOverlap(a, b, 2, new Uint8Array([0, 1, 0, 1, 0])), 1 / 2); // {0, 2} vs {0, 4}
  });
});
