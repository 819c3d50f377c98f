import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import {
  coldUserSegment,
  countOccurrences,
  evaluateFullRanking,
  evaluateSampled,
  evaluateTasks,
  fidelity,
  longTailSegment,
  rankSegments,
  sampledCandidates,
  type TaskScorer,
} from "../../src/eval/protocol.js";
import { auc, logLoss } from "../../src/eval/metrics.js";
import { readDataset } from "../../src/data/readers.js";
import { buildUserItemIndex, itemPopularity } from "../../src/data/sampling.js";
import { leaveOneOut } from "../../src/data/splits.js";
import { interactionLog } from "../helpers/interactions.js";
import type { Scorer, UserQuery } from "../../src/models/recommender.js";

const close = (actual: number, expected: number, tol = 1e-9) =>
  assert.ok(Math.abs(actual - expected) <= tol, `expected ${expected}, got ${actual}`);

const range = (from: number, to: number) => Array.from({ length: to - from }, (_, k) => from + k);

/** A scorer from a function of (user, item), recording every candidate list it is asked to score. */
class StubScorer implements Scorer {
  readonly lists: { user: number; items: number[] }[] = [];
  constructor(
    private readonly numItems: number,
    private readonly score: (user: number, item: number) => number,
  ) {}

  scoreCandidates(query: UserQuery, items: Int32Array): Float32Array {
    this.lists.push({ user: query.user, items: Array.from(items) });
    return Float32Array.from(items, (item) => this.score(query.user, item));
  }

  scoreAll(query: UserQuery): Float32Array {
    return Float32Array.from({ length: this.numItems }, (_, item) => this.score(query.user, item));
  }
}

// 40 items; user 0 saw 0..9, user 1 saw 10..14, user 2 saw 15..35 (train + valid); one test item each.
const NUM_ITEMS = 40;
const seenLog = interactionLog([
  ...range(0, 10).map((i): [number, number] => [0, i]),
  ...range(10, 15).map((i): [number, number] => [1, i]),
  ...range(15, 36).map((i): [number, number] => [2, i]),
]);
const seen = buildUserItemIndex(seenLog, 3);
const testItemOf = [20, 30, 38];
const testLog = interactionLog(testItemOf.map((item, user): [number, number] => [user, item]));

describe("sampled candidates", () => {
  test("the test item first, then distinct negatives the user has not seen", () => {
    for (const [user, item] of testItemOf.entries()) {
      const candidates = Array.from(sampledCandidates(user, item, { seen, numItems: NUM_ITEMS, negatives: 3 }));
      assert.equal(candidates.length, 4);
      assert.equal(candidates[0], item);
      const negatives = candidates.slice(1);
      assert.equal(new Set(negatives).size, 3);
      for (const negative of negatives) {
        assert.ok(negative >= 0 && negative < NUM_ITEMS);
        assert.ok(!seen.has(user, negative), `user ${user} saw ${negative}`);
        assert.notEqual(negative, item);
      }
    }
  });

  test("takes every unseen item when fewer remain than asked", () => {
    // User 2 saw 21 items and the test item is excluded: 18 remain.
    const candidates = sampledCandidates(2, 38, { seen, numItems: NUM_ITEMS, negatives: 499 });
    const expected = range(0, NUM_ITEMS).filter((i) => !seen.has(2, i) && i !== 38);
    assert.deepEqual(
      Array.from(candidates.subarray(1)).sort((a, b) => a - b),
      expected,
    );
  });

  test("the same for a seed, different for another seed or occurrence", () => {
    const options = { seen, numItems: NUM_ITEMS, negatives: 10, seed: 4 };
    const list = sampledCandidates(0, 20, options);
    assert.deepEqual(sampledCandidates(0, 20, options), list);
    assert.notDeepEqual(sampledCandidates(0, 20, { ...options, seed: 5 }), list);
    assert.notDeepEqual(sampledCandidates(0, 20, { ...options, occurrence: 1 }), list);
  });

  test("users the seen index does not cover see the whole catalogue", () => {
    const candidates = sampledCandidates(7, 0, { seen, numItems: NUM_ITEMS, negatives: 39 });
    assert.deepEqual(
      Array.from(candidates).sort((a, b) => a - b),
      range(0, NUM_ITEMS),
    );
  });
});

describe("evaluateSampled", () => {
  const options = { seen, numItems: NUM_ITEMS, negatives: 8, seed: 1, ks: [1, 5] };

  test("a scorer that puts the test item first gets HR@1 = NDCG@1 = 1", () => {
    const oracle = new StubScorer(NUM_ITEMS, (user, item) => (item === testItemOf[user] ? 1 : 0));
    const result = evaluateSampled(oracle, testLog, options);
    assert.deepEqual(Array.from(result.ranks), [0, 0, 0]);
    assert.deepEqual(Array.from(result.users), [0, 1, 2]);
    assert.equal(result.metrics["HR@1"], 1);
    assert.equal(result.metrics["NDCG@1"], 1);
    assert.equal(result.metrics["count"], 3);
  });

  test("a scorer that puts the test item last ranks it below every negative", () => {
    const adversary = new StubScorer(NUM_ITEMS, (user, item) => (item === testItemOf[user] ? -1 : 0));
    const result = evaluateSampled(adversary, testLog, options);
    assert.deepEqual(Array.from(result.ranks), [8, 8, 8]);
    assert.equal(result.metrics["HR@5"], 0);
  });

  test("rank = negatives scoring strictly higher, plus half the ties; NaN scores rank above", () => {
    const byId = new StubScorer(NUM_ITEMS, (_user, item) => item);
    const result = evaluateSampled(byId, testLog, options);
    for (const [c, { items }] of byId.lists.entries()) {
      assert.equal(result.ranks[c], items.slice(1).filter((i) => i > items[0]!).length);
    }
    // A constant (collapsed) model is ranked in the middle of its list, not first.
    const constant = new StubScorer(NUM_ITEMS, () => 0.5);
    assert.deepEqual(Array.from(evaluateSampled(constant, testLog, options).ranks), [4, 4, 4]);
    const byParity = new StubScorer(NUM_ITEMS, (_user, item) => item % 2);
    const parity = evaluateSampled(byParity, testLog, options);
    for (const [c, { items }] of byParity.lists.entries()) {
      const [first, ...rest] = items.map((i) => i % 2);
      const above = rest.filter((s) => s > first!).length;
      const ties = rest.filter((s) => s === first).length;
      assert.equal(parity.ranks[c], above + Math.floor(ties / 2));
    }
    const nanNegatives = new StubScorer(NUM_ITEMS, (user, item) => (item === testItemOf[user] ? 1 : NaN));
    assert.deepEqual(Array.from(evaluateSampled(nanNegatives, testLog, options).ranks), [8, 8, 8]);
  });

  test("every scorer is ranked on the same candidate lists for a seed", () => {
    const first = new StubScorer(NUM_ITEMS, (_user, item) => item);
    const second = new StubScorer(NUM_ITEMS, (user, item) => Math.sin(user * 7 + item));
    evaluateSampled(first, testLog, options);
    evaluateSampled(second, testLog, options);
    assert.deepEqual(first.lists, second.lists);
    for (const { user, items } of first.lists) {
      assert.deepEqual(items, Array.from(sampledCandidates(user, testItemOf[user]!, options)));
    }
  });

  test("segments split the cases and carry their own metrics", () => {
    const counts = countOccurrences(seenLog.users, 3); // [10, 5, 21]
    const segmentOf = coldUserSegment(counts, 5);
    // Right for warm users, wrong for the cold one.
    const scorer = new StubScorer(NUM_ITEMS, (user, item) => (item === testItemOf[user] ? (user === 1 ? -1 : 1) : 0));
    const result = evaluateSampled(scorer, testLog, { ...options, segmentOf });
    assert.deepEqual(Object.keys(result.segments).sort(), ["cold users", "warm users"]);
    assert.equal(result.segments["warm users"]!["count"], 2);
    assert.equal(result.segments["warm users"]!["HR@1"], 1);
    assert.equal(result.segments["cold users"]!["count"], 1);
    assert.equal(result.segments["cold users"]!["HR@1"], 0);
    close(result.metrics["HR@1"]!, 2 / 3);
  });

  test("rankSegments breaks one run down like the segmentOf option, for any number of segmentations", () => {
    const scorer = new StubScorer(NUM_ITEMS, (user, item) => Math.sin(user * 3 + item));
    const plain = evaluateSampled(scorer, testLog, options);
    const segmentations = [coldUserSegment(countOccurrences(seenLog.users, 3), 5), longTailSegment(range(0, 40), 0.2)];
    for (const segmentOf of segmentations) {
      const direct = evaluateSampled(scorer, testLog, { ...options, segmentOf });
      assert.deepEqual(rankSegments(plain, segmentOf, options.ks), direct.segments);
    }
  });
});

describe("evaluateTasks", () => {
  const options = { seen, numItems: NUM_ITEMS, negatives: 10, seed: 3, ks: [10] };
  const main = new StubScorer(NUM_ITEMS, (user, item) => Math.sin(item * 1.3 + user));
  const conversion = (user: number, item: number) => Math.cos(item + 2 * user);
  const score: TaskScorer = (query, items) => ({
    main: main.scoreCandidates(query, items),
    conversion: Float32Array.from(items, (item) => conversion(query.user, item)),
    unused: new Float32Array(items.length),
  });
  const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

  test("scores the sampled protocol's lists: each test row labelled per task, each negative 0", () => {
    const labels = { main: [1, 1, 1], conversion: [1, 0, 1] };
    const result = evaluateTasks(score, testLog, labels, options);
    assert.deepEqual(Object.keys(result), ["main", "conversion"]);
    const ranked = new StubScorer(NUM_ITEMS, (user, item) => Math.sin(item * 1.3 + user));
    const sampled = evaluateSampled(ranked, testLog, options);
    assert.deepEqual(main.lists, ranked.lists, "the same lists as the sampled protocol");
    // With one positive per user and no ties, per-user AUC = 1 − rank / negatives.
    const meanRank = Array.from(sampled.ranks).reduce((a, b) => a + b, 0) / 3;
    close(result.main!["GAUC"]!, 1 - meanRank / 10);
    const probabilities = main.lists.flatMap(({ user, items }) => items.map((i) => sigmoid(conversion(user, i))));
    const targets = main.lists.flatMap(({ user, items }) =>
      items.map((_, k) => (k === 0 ? labels.conversion[user]! : 0)),
    );
    close(result.conversion!["AUC"]!, auc(probabilities, targets), 1e-6);
    close(result.conversion!["LogLoss"]!, logLoss(probabilities, targets), 1e-6);
    assert.equal(result.conversion!["count"], 33);
  });

  test("labels must cover the test rows, and every labelled task needs logits", () => {
    assert.throws(() => evaluateTasks(score, testLog, { main: [1, 1] }, options), /2 "main" labels for 3 test rows/);
    assert.throws(
      () => evaluateTasks(score, testLog, { purchase: [1, 1, 1] }, options),
      /no logits for task "purchase"/,
    );
  });
});

describe("evaluateFullRanking", () => {
  test("masks seen items and scores several test items with the ideal DCG", () => {
    // Higher ids score higher; user 0 saw 35..39, so its ranking is 34, 33, 32, … with test items 34 and 30.
    const train = interactionLog(range(35, 40).map((i): [number, number] => [0, i]));
    const test = interactionLog([
      [0, 34],
      [0, 30],
    ]);
    const byId = new StubScorer(NUM_ITEMS, (_user, item) => item);
    const result = evaluateFullRanking(byId, test, {
      seen: buildUserItemIndex(train, 1),
      numItems: NUM_ITEMS,
      ks: [1, 5],
    });
    assert.deepEqual(Array.from(result.ranks), [0]);
    assert.deepEqual(Array.from(result.items), [34]);
    const m = result.metrics;
    assert.equal(m["HR@1"], 1);
    close(m["Precision@1"]!, 1);
    close(m["Recall@1"]!, 1 / 2);
    close(m["NDCG@1"]!, 1);
    close(m["NDCG@5"]!, (1 + 1 / Math.log2(6)) / (1 + 1 / Math.log2(3)));
    close(m["Recall@5"]!, 1);
    close(m["Precision@5"]!, 2 / 5);
    assert.equal(m["count"], 1);
  });

  test("rank counts the unmasked non-test items ordered above the test item", () => {
    const byId = new StubScorer(NUM_ITEMS, (_user, item) => item);
    const emptySeen = buildUserItemIndex(interactionLog([]), 3);
    const result = evaluateFullRanking(byId, testLog, { seen: emptySeen, numItems: NUM_ITEMS, ks: [1] });
    assert.deepEqual(Array.from(result.ranks), [19, 9, 1]);
    const masked = evaluateFullRanking(byId, testLog, { seen, numItems: NUM_ITEMS, ks: [1] });
    // User 0: 21..39 are unseen and above 20; user 1: 31..39; user 2: 39.
    assert.deepEqual(Array.from(masked.ranks), [19, 9, 1]);
    const hidesTop = buildUserItemIndex(interactionLog([[2, 39]]), 3);
    assert.deepEqual(
      Array.from(evaluateFullRanking(byId, testLog, { seen: hidesTop, numItems: NUM_ITEMS, ks: [1] }).ranks),
      [19, 9, 0],
    );
  });

  test("segments by the test item's popularity", () => {
    const popularity = new Float64Array(NUM_ITEMS);
    popularity[20] = 9;
    popularity[30] = 1;
    const oracle = new StubScorer(NUM_ITEMS, (user, item) => (item === testItemOf[user] ? 1 : 0));
    const result = evaluateFullRanking(oracle, testLog, {
      seen,
      numItems: NUM_ITEMS,
      ks: [1],
      segmentOf: longTailSegment(popularity, 0.025), // 1 head item of 40
    });
    assert.equal(result.segments["head items"]!["count"], 1);
    assert.equal(result.segments["long-tail items"]!["count"], 2);
    assert.equal(result.metrics["HR@1"], 1);
  });
});

describe("segments", () => {
  test("cold users have at most `threshold` train interactions; unknown users are cold", () => {
    const segmentOf = coldUserSegment(new Int32Array([0, 3, 4, 10]), 3);
    assert.deepEqual(
      [0, 1, 2, 3, 9].map((user) => segmentOf(user, 0)),
      ["cold users", "cold users", "warm users", "warm users", "cold users"],
    );
  });

  test("head items are the most popular fraction, ties at the boundary included", () => {
    const segmentOf = longTailSegment([5, 0, 9, 5, 1, 2, 0, 0, 3, 1], 0.2);
    const heads = range(0, 10).filter((item) => segmentOf(0, item) === "head items");
    assert.deepEqual(heads, [0, 2, 3]); // 2nd most popular is 5, shared by items 0 and 3
    const none = longTailSegment([0, 0, 0], 0.5);
    assert.equal(none(0, 1), "long-tail items");
  });
});

describe("fidelity", () => {
  const users = new Int32Array([0, 1, 2]);
  const teacher = new StubScorer(NUM_ITEMS, (user, item) => Math.sin(item * 1.7 + user));

  test("a perfect copy has overlap 1 and correlations 1; a reversed one -1 and overlap 0", () => {
    const same = fidelity(teacher, teacher, users, { numItems: NUM_ITEMS, k: 5, seen });
    assert.deepEqual(same, { topKOverlap: 1, spearman: 1, kendall: 1, users: 3 });
    const reversed = new StubScorer(NUM_ITEMS, (user, item) => -Math.sin(item * 1.7 + user));
    const opposite = fidelity(teacher, reversed, users, { numItems: NUM_ITEMS, k: 5, seen });
    assert.equal(opposite.topKOverlap, 0);
    close(opposite.spearman, -1);
    close(opposite.kendall, -1);
  });

  test("ignores seen items", () => {
    // Agrees with the teacher on unseen items, contradicts it on seen ones.
    const student = new StubScorer(NUM_ITEMS, (user, item) =>
      seen.has(user, item) ? 100 - Math.sin(item * 1.7 + user) : Math.sin(item * 1.7 + user),
    );
    const result = fidelity(teacher, student, users, { numItems: NUM_ITEMS, k: 5, seen });
    assert.deepEqual(result, { topKOverlap: 1, spearman: 1, kendall: 1, users: 3 });
    assert.ok(fidelity(teacher, student, users, { numItems: NUM_ITEMS, k: 5 }).topKOverlap < 1);
  });
});

const ML100K = resolve(process.cwd(), "../shared/data/ml-100k");

describe("ml-100k", { skip: !existsSync(ML100K) && "ml-100k not found at ../shared/data/ml-100k" }, () => {
  test("leave-one-out: popularity is far above chance, a random scorer is at chance", async () => {
    const dataset = await readDataset(ML100K);
    const numUsers = dataset.users.size;
    const numItems = dataset.items.size;
    const { train, valid, test: testRows } = leaveOneOut(dataset.interactions);
    const known = interactionLog([
      ...Array.from(train.users, (u, r): [number, number] => [u, train.items[r]!]),
      ...Array.from(valid.users, (u, r): [number, number] => [u, valid.items[r]!]),
    ]);
    const seenItems = buildUserItemIndex(known, numUsers);
    const popularity = itemPopularity(train, numItems);
    const popular = new StubScorer(numItems, (_user, item) => popularity[item]!);
    const options = {
      seen: seenItems,
      numItems,
      ks: [10],
      segmentOf: coldUserSegment(countOccurrences(train.users, numUsers), 20),
    };
    const byPopularity = evaluateSampled(popular, testRows, options);
    assert.equal(byPopularity.ranks.length, numUsers);
    const hr = byPopularity.metrics["HR@10"]!;
    assert.ok(hr > 0.05 && hr < 0.6, `popularity HR@10 = ${hr}`);
    const segments = byPopularity.segments;
    assert.equal(segments["cold users"]!["count"]! + segments["warm users"]!["count"]!, numUsers);

    let state = 12345;
    const random = new StubScorer(numItems, () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0));
    const chance = evaluateSampled(random, testRows, options).metrics["HR@10"]!;
    // Expected 10 / 500 = 0.02; over 943 users the standard deviation is about 0.0046.
    assert.ok(chance > 0.002 && chance < 0.045, `random HR@10 = ${chance}`);
  });
});
