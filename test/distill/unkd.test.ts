import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { DataRng } from "../../src/data/rng.js";
import { endStep } from "../../src/engine/tensor.js";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { historyPopularity } from "../../src/models/context.js";
import { distillationLoss } from "../../src/distill/losses.js";
import { allocateSoftLabels, setSoftLabelRow, KIND_OBSERVED } from "../../src/distill/soft-labels.js";
import {
  discountedRank,
  pairwiseListLoss,
  popularityGroups,
  stratifiedPairs,
  type ListPairs,
} from "../../src/distill/unkd.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

const close = (a: number, b: number, tol = 1e-5): void =>
  assert.ok(Math.abs(a - b) <= tol * Math.max(1, Math.abs(b)), `${a} vs ${b}`);

describe("popularityGroups", () => {
  test("cuts the items, most popular first, into groups of about equal shares of the interactions", () => {
    // 100 interactions: item 3 alone holds half; then 2 and 5 (20 each); then the long tail.
    const popularity = [4, 3, 20, 50, 2, 20, 1, 0];
    const groups = popularityGroups(popularity, 2);
    assert.deepEqual(Array.from(groups), [1, 1, 1, 0, 1, 1, 1, 1]);
    const four = popularityGroups(popularity, 4);
    assert.deepEqual(Array.from(four), [3, 3, 2, 0, 3, 2, 3, 3]);
  });

  test("every item of a group is at least as popular as any item of a later group; ties and zeros stay together", () => {
    const rng = new DataRng(7);
    const popularity = Array.from(
      { length: 300 },
      () => Math.floor(200 / (1 + rng.int(60))) * (rng.int(10) > 0 ? 1 : 0),
    );
    const groups = popularityGroups(popularity, 5);
    for (let a = 0; a < popularity.length; a++) {
      for (let b = 0; b < popularity.length; b++) {
        if (groups[a]! < groups[b]!) assert.ok(popularity[a]! >= popularity[b]!, `items ${a}, ${b}`);
        if (popularity[a] === popularity[b]) assert.equal(groups[a], groups[b]);
      }
    }
    for (let i = 0; i < popularity.length; i++) if (popularity[i] === 0) assert.equal(groups[i], 4);
    // The head group holds at least its fifth of the interactions, and would hold less without its last popularity value.
    const total = popularity.reduce((sum, p) => sum + p, 0);
    const head = popularity.filter((_, i) => groups[i] === 0);
    const headTotal = head.reduce((sum, p) => sum + p, 0);
    const lastValue = Math.min(...head);
    assert.ok(headTotal >= total / 5, `head share ${headTotal} of ${total}`);
    assert.ok(headTotal - lastValue * head.filter((p) => p === lastValue).length < total / 5);
  });

  test("one group holds everything; a bad count is refused", () => {
    assert.deepEqual(Array.from(popularityGroups([3, 0, 1], 1)), [0, 0, 0]);
    assert.throws(() => popularityGroups([1, 2], 0), /groups must be an integer/);
  });

  test("popularity from the training histories counts every occurrence", () => {
    const histories = { offsets: Int32Array.from([0, 3, 5]), items: Int32Array.from([0, 2, 2, 2, 1]) };
    assert.deepEqual(Array.from(historyPopularity(histories, 4)), [1, 1, 3, 0]);
  });
});

/** Two lists over 10 items: P = 1 observed, K = 3 top, N = 4 sampled, the teacher scoring item i as −i. */
function twoLists() {
  const labels = allocateSoftLabels(2, 1, 3, 4);
  const scores = Float32Array.from({ length: 10 }, (_, i) => -i);
  setSoftLabelRow(labels, 0, { user: 0, observed: [9], top: [0, 1, 4], sampled: [2, 5, 6, 8] }, scores);
  setSoftLabelRow(labels, 1, { user: 1, observed: [0], top: [3, 7, 9], sampled: [1, 2, 5, 6] }, scores);
  return labels;
}

describe("discountedRank", () => {
  test("draws rank r of n with probability ∝ e^{−r/temperature}", () => {
    const rng = new DataRng(11);
    const n = 6;
    const counts = new Float64Array(n);
    const draws = 60_000;
    for (let k = 0; k < draws; k++) counts[discountedRank(n, 2, rng)]!++;
    const weights = Array.from({ length: n }, (_, r) => Math.exp(-r / 2));
    const total = weights.reduce((sum, w) => sum + w, 0);
    for (let r = 0; r < n; r++) {
      assert.ok(Math.abs(counts[r]! / draws - weights[r]! / total) < 0.01, `rank ${r}: ${counts[r]! / draws}`);
    }
  });
});

describe("stratifiedPairs", () => {
  test("pairs only items of one popularity group, the teacher's better one first, never an observed slot", () => {
    const labels = twoLists();
    // Items 0–2 head, 3–5 middle, 6–9 tail.
    const groupOf = Int32Array.from([0, 0, 0, 1, 1, 1, 2, 2, 2, 2]);
    const pairs = stratifiedPairs(labels, Int32Array.from([0, 1]), groupOf, 6, 10, new DataRng(3));
    const L = labels.listLength;
    for (let k = 0; k < 2; k++) {
      const groupsSeen = new Set<number>();
      for (let p = pairs.offsets[k]!; p < pairs.offsets[k + 1]!; p++) {
        const better = labels.items[k * L + pairs.better[p]!]!;
        const worse = labels.items[k * L + pairs.worse[p]!]!;
        assert.notEqual(labels.kinds[k * L + pairs.better[p]!], KIND_OBSERVED);
        assert.notEqual(labels.kinds[k * L + pairs.worse[p]!], KIND_OBSERVED);
        assert.equal(groupOf[better], groupOf[worse], `pair ${better}, ${worse} crosses groups`);
        assert.ok(better < worse, `the teacher ranks ${better} above ${worse}`);
        groupsSeen.add(groupOf[better]!);
      }
      // Every group with two unobserved items in the list gets its pairs: 6 each.
      assert.equal(pairs.offsets[k + 1]! - pairs.offsets[k]!, 6 * groupsSeen.size);
    }
    // List 0: head {0, 1, 2}, middle {4, 5}, tail {6, 8} (9 is observed); list 1: head {1, 2}, middle {3, 5}, tail {6, 7, 9}.
    assert.equal(pairs.offsets[1], 18);
    assert.equal(pairs.offsets[2], 36);
  });

  test("a group with a single unobserved item gives no pair", () => {
    const labels = twoLists();
    const groupOf = Int32Array.from([0, 1, 1, 1, 1, 1, 1, 1, 1, 1]);
    const pairs = stratifiedPairs(labels, Int32Array.from([0]), groupOf, 4, 10, new DataRng(1));
    assert.equal(pairs.offsets[1], 4);
    for (const c of [...pairs.better, ...pairs.worse]) assert.notEqual(labels.items[c], 0);
  });
});

describe("pairwiseListLoss", () => {
  const pairs: ListPairs = {
    offsets: Int32Array.from([0, 3, 3, 5]),
    better: Int32Array.from([0, 1, 0, 4, 2]),
    worse: Int32Array.from([2, 3, 1, 5, 0]),
  };

  test("is the mean over rows of each row's mean −log σ(better − worse); a row without pairs counts 0", () => {
    const s = leaf([3, 6], 11, 2);
    const at = (r: number, c: number) => s.data[r * 6 + c]!;
    const bpr = (r: number, p: number) => Math.log1p(Math.exp(-(at(r, pairs.better[p]!) - at(r, pairs.worse[p]!))));
    const expected = ((bpr(0, 0) + bpr(0, 1) + bpr(0, 2)) / 3 + 0 + (bpr(2, 3) + bpr(2, 4)) / 2) / 3;
    close(pairwiseListLoss(s, pairs).item(), expected);
    endStep();
  });

  test("passes gradCheck", () => {
    const s = leaf([3, 6], 12, 2);
    gradCheck(() => pairwiseListLoss(s, pairs), [s]);
  });

  test("stays finite for large gaps", () => {
    const s = leaf([3, 6], 13, 500);
    assert.ok(Number.isFinite(pairwiseListLoss(s, pairs).item()));
    endStep();
  });
});

describe("the unkd term of distillationLoss", () => {
  const context = { numUsers: 2, numItems: 10 };
  const batch = {
    users: Int32Array.from([0, 1]),
    positives: Int32Array.from([9, 0]),
    negatives: Int32Array.from([3, 4]),
  };
  const weights = { hard: 0, unkd: 1, unkdGroups: 3, unkdPairs: 4 };
  const popularity = Int32Array.from([9, 9, 8, 5, 5, 4, 1, 1, 1, 0]);

  test("needs the items' popularity", () => {
    const student = new BPRMF({ dim: 4, seed: 1 }, context);
    assert.throws(() => distillationLoss(student, batch, twoLists(), weights), /training popularity/);
    endStep();
  });

  test("passes gradCheck in the student's parameters, the pairs drawn alike each time", () => {
    const student = new BPRMF({ dim: 4, seed: 2, initStd: 0.8 }, context);
    const labels = twoLists();
    const loss = () =>
      distillationLoss(student, batch, labels, weights, { itemPopularity: popularity, rng: new DataRng(5) }).total;
    assert.ok(loss().item() > 0);
    endStep();
    gradCheck(loss, student.parameters());
  });
});
