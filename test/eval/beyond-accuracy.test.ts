import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  beyondAccuracyMetrics,
  catalogueCoverage,
  exposureCounts,
  exposureGini,
  giniIndex,
  longTailShare,
  novelty,
  selfInformation,
} from "../../src/eval/beyond-accuracy.js";
import { PopularityRanker } from "../../src/eval/popularity.js";
import { evaluateFullRanking, headItems, longTailSegment } from "../../src/eval/protocol.js";
import { buildUserItemIndex } from "../../src/data/sampling.js";
import { interactionLog } from "../helpers/interactions.js";

const close = (actual: number, expected: number, tol = 1e-12) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

// Five items; train popularity 10, 5, 0, 1, 0 (16 interactions): item 0 is the one head item (⌈0.2 · 5⌉ = 1).
const POPULARITY = [10, 5, 0, 1, 0];
const HEAD = headItems(POPULARITY, 0.2);
// Three users' lists; their top 2 are [0, 1], [0, 3], [0, 1].
const LISTS = [Int32Array.of(0, 1, 2), Int32Array.of(0, 3, 4), Int32Array.of(0, 1)];

describe("exposure: coverage and Gini", () => {
  test("exposure counts every catalogue item's appearances in the first k, zeros included", () => {
    assert.deepEqual(Array.from(exposureCounts(LISTS, 5, 2)), [3, 2, 0, 1, 0]);
    assert.deepEqual(Array.from(exposureCounts(LISTS, 5, 3)), [3, 2, 1, 1, 1]);
  });

  test("coverage@k is the share of the catalogue in anyone's first k", () => {
    close(catalogueCoverage(LISTS, 5, 2), 3 / 5);
    close(catalogueCoverage(LISTS, 5, 3), 1);
    close(catalogueCoverage(LISTS, 10, 1), 1 / 10); // everyone's first item is 0
  });

  test("the Gini index: 0 for equal exposure, (n − 1) / n for all on one item", () => {
    assert.equal(giniIndex([2, 2, 2, 2]), 0);
    close(giniIndex([0, 0, 0, 4]), 3 / 4);
    // Sorted 0, 0, 1, 2, 3: Σ (2j − 6) v_j = 0·1 + 2·2 + 4·3 = 16, over 5 · 6.
    close(exposureGini(LISTS, 5, 2), 16 / 30);
    assert.equal(giniIndex([5]), 0);
  });

  test("more concentrated exposure has a larger Gini index", () => {
    const sameForAll = [Int32Array.of(0, 1), Int32Array.of(0, 1), Int32Array.of(0, 1)];
    const spread = [Int32Array.of(0, 1), Int32Array.of(2, 3), Int32Array.of(4, 0)];
    assert.ok(exposureGini(sameForAll, 6, 2) > exposureGini(spread, 6, 2));
  });
});

describe("long tail and novelty", () => {
  test("the head is the most popular fraction of the catalogue, never an item unseen in training", () => {
    assert.deepEqual(Array.from(HEAD), [1, 0, 0, 0, 0]);
    assert.deepEqual(Array.from(headItems([0, 0, 0], 0.5)), [0, 0, 0]);
    // The segment of the test cases uses the same split.
    const segmentOf = longTailSegment(POPULARITY, 0.2);
    assert.deepEqual(
      [0, 1, 2, 3, 4, 7].map((item) => segmentOf(0, item)),
      ["head items", ...Array<string>(5).fill("long-tail items")],
    );
  });

  test("long-tail share@k is the share of recommended slots holding a long-tail item", () => {
    close(longTailShare(LISTS, HEAD, 2), 3 / 6); // slots 0 1 | 0 3 | 0 1
    close(longTailShare(LISTS, HEAD, 1), 0);
    close(longTailShare(LISTS, HEAD, 3), 5 / 8);
  });

  test("self-information is −log2 of the add-one smoothed share of training interactions", () => {
    const bits = selfInformation(POPULARITY); // p(i) = (n_i + 1) / (16 + 5)
    close(bits[0]!, -Math.log2(11 / 21));
    close(bits[3]!, -Math.log2(2 / 21));
    // An item never seen in training: finite, and the largest.
    close(bits[2]!, Math.log2(21));
    assert.equal(Math.max(...bits), bits[4]);
  });

  test("novelty@k is the mean self-information of the recommended slots", () => {
    const bits = selfInformation(POPULARITY);
    close(novelty(LISTS, POPULARITY, 2), (3 * bits[0]! + 2 * bits[1]! + bits[3]!) / 6);
    close(novelty([Int32Array.of(2, 4)], POPULARITY, 2), Math.log2(21));
  });
});

describe("edge cases", () => {
  test("no lists, empty lists and k = 0 give zeros, not NaN", () => {
    for (const lists of [[], [new Int32Array(0), new Int32Array(0)]]) {
      const metrics = beyondAccuracyMetrics(lists, { itemPopularity: POPULARITY, head: HEAD, ks: [10] });
      assert.deepEqual(metrics, { "Coverage@10": 0, "Gini@10": 0, "LongTailShare@10": 0, "Novelty@10": 0 });
    }
    assert.equal(catalogueCoverage(LISTS, 5, 0), 0);
    assert.equal(novelty(LISTS, POPULARITY, 0), 0);
    assert.equal(catalogueCoverage([], 0, 10), 0);
  });

  test("k larger than the catalogue reads each whole list", () => {
    const metrics = beyondAccuracyMetrics(LISTS, { itemPopularity: POPULARITY, head: HEAD, ks: [3, 100] });
    for (const name of ["Coverage", "Gini", "LongTailShare", "Novelty"]) {
      assert.equal(metrics[`${name}@100`], metrics[`${name}@3`], name);
    }
    close(metrics["Coverage@100"]!, 1);
  });
});

describe("the popularity ranker", () => {
  // Users 0..2; user 0 saw item 0, user 1 item 1; test items: user 0 → 3, user 1 → 0, user 2 → 4.
  const seen = buildUserItemIndex(
    interactionLog([
      [0, 0],
      [1, 1],
    ]),
    3,
  );
  const test_ = interactionLog([
    [0, 3],
    [1, 0],
    [2, 4],
  ]);
  const ranker = new PopularityRanker(POPULARITY);

  test("scores every item by its training popularity, the same for every user", () => {
    assert.deepEqual(Array.from(ranker.scoreAll()), POPULARITY);
    assert.deepEqual(Array.from(ranker.scoreCandidates({ user: 2 }, Int32Array.of(3, 0))), [1, 10]);
  });

  test("under full ranking, each user gets the most popular items they have not seen, ties to the lower id", () => {
    const result = evaluateFullRanking(ranker, test_, { seen, numItems: 5, ks: [2] });
    assert.deepEqual(
      result.lists!.map((l) => Array.from(l)),
      [
        [1, 3], // item 0 seen
        [0, 3], // item 1 seen
        [0, 1],
      ],
    );
  });

  test("NDCG@k over the long-tail test cases: the held-out item outside the head", () => {
    const result = evaluateFullRanking(ranker, test_, {
      seen,
      numItems: 5,
      ks: [2],
      segmentOf: longTailSegment(POPULARITY, 0.2),
    });
    // User 0's item 3 is second after 1 (NDCG 1 / log2 3); user 2's item 4 is last of 0 1 3 2 4 (0); user 1's
    // item 0 is a head item, first.
    close(result.segments["long-tail items"]!["NDCG@2"]!, 1 / Math.log2(3) / 2);
    assert.equal(result.segments["long-tail items"]!["count"], 2);
    close(result.segments["head items"]!["NDCG@2"]!, 1);
  });
});
