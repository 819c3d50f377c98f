import { describe, test } from "node:test";
import assert from "node:assert/strict";
import {
  buildAliasTable,
  buildUserItemIndex,
  itemPopularity,
  PopularitySampler,
  sampleCandidates,
  UniformSampler,
} from "../../src/data/sampling.js";
import { makeInteractions } from "../../src/data/shaping.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { DataRng } from "../../src/data/rng.js";
import type { Interactions } from "../../src/data/types.js";

function pairs(list: [number, number][]): Interactions {
  return makeInteractions({
    users: Int32Array.from(list, (p) => p[0]),
    items: Int32Array.from(list, (p) => p[1]),
    values: new Float32Array(list.length).fill(1),
    timestamps: new Float64Array(list.length),
    eventTypes: new Uint8Array(list.length),
  });
}

/** Pearson's chi-square statistic of observed counts against expected probabilities. */
function chiSquare(observed: ArrayLike<number>, expected: ArrayLike<number>, draws: number): number {
  let statistic = 0;
  for (let k = 0; k < observed.length; k++) {
    if (expected[k]! === 0) {
      assert.equal(observed[k], 0, `item ${k} has zero probability but was drawn`);
      continue;
    }
    statistic += (observed[k]! - draws * expected[k]!) ** 2 / (draws * expected[k]!);
  }
  return statistic;
}

describe("UserItemIndex", () => {
  test("holds each user's distinct items sorted, and answers membership", () => {
    const index = buildUserItemIndex(
      pairs([
        [1, 5],
        [0, 3],
        [1, 2],
        [1, 5],
        [0, 0],
      ]),
      3,
    );
    assert.deepEqual(Array.from(index.offsets), [0, 2, 4, 4]);
    assert.deepEqual(Array.from(index.itemsOf(0)), [0, 3]);
    assert.deepEqual(Array.from(index.itemsOf(1)), [2, 5]);
    assert.equal(index.count(2), 0);
    assert.ok(index.has(1, 5) && index.has(0, 0) && !index.has(0, 5) && !index.has(2, 0));
  });

  test("membership agrees with a Set on a synthetic log", () => {
    const { interactions } = generateEcommerce({ users: 100, items: 300, events: 5000, seed: 1 });
    const index = buildUserItemIndex(interactions, 100);
    const truth = new Set(Array.from(interactions.users, (u, r) => u * 1000 + interactions.items[r]!));
    for (let u = 0; u < 100; u++) {
      for (let i = 0; i < 300; i++) assert.equal(index.has(u, i), truth.has(u * 1000 + i));
    }
  });
});

describe("negative samplers", () => {
  // User 0 has seen items 0..4 of 20, user 1 has seen every item, user 2 all but items 7 and 13.
  const numItems = 20;
  const seenPairs: [number, number][] = [];
  for (let i = 0; i < 5; i++) seenPairs.push([0, i]);
  for (let i = 0; i < numItems; i++) seenPairs.push([1, i]);
  for (let i = 0; i < numItems; i++) if (i !== 7 && i !== 13) seenPairs.push([2, i]);
  const seen = buildUserItemIndex(pairs(seenPairs), 3);

  test("uniform negatives exclude seen items and cover the rest evenly", () => {
    const sampler = new UniformSampler(seen, numItems, { seed: 3 });
    const draws = 30_000;
    const counts = new Float64Array(numItems);
    const out = sampler.sampleBatch(new Int32Array(draws));
    for (const item of out) counts[item]!++;
    const expected = Float64Array.from({ length: numItems }, (_, i) => (i < 5 ? 0 : 1 / 15));
    // 14 degrees of freedom: the 99.9th percentile of chi-square is about 36.
    assert.ok(chiSquare(counts, expected, draws) < 36);
  });

  test("popularity negatives follow popularity^alpha over unseen items", () => {
    const popularity = Float64Array.from({ length: numItems }, (_, i) => (i % 4 === 3 ? 0 : 1 + i));
    for (const alpha of [1, 0.5]) {
      const sampler = new PopularitySampler(seen, popularity, { seed: 4, alpha });
      const draws = 50_000;
      const counts = new Float64Array(numItems);
      for (let k = 0; k < draws; k++) counts[sampler.sample(0)]!++;
      const weights = Float64Array.from(popularity, (p, i) => (i < 5 ? 0 : p ** alpha));
      const total = weights.reduce((a, b) => a + b, 0);
      // 11 items have positive weight: 10 degrees of freedom, 99.9th percentile about 30.
      const statistic = chiSquare(
        counts,
        Float64Array.from(weights, (w) => w / total),
        draws,
      );
      assert.ok(statistic < 30, `chi-square ${statistic.toFixed(1)} for alpha ${alpha}`);
    }
  });

  test("a user who has seen nearly everything still gets exact draws", () => {
    const sampler = new UniformSampler(seen, numItems, { seed: 5, maxTries: 2 });
    const drawn = new Set(Array.from({ length: 200 }, () => sampler.sample(2)));
    assert.deepEqual(
      [...drawn].sort((a, b) => a - b),
      [7, 13],
    );
  });

  test("a user who has seen every item is a clear error", () => {
    const sampler = new UniformSampler(seen, numItems, { seed: 6 });
    assert.throws(() => sampler.sample(1), /user 1 has no unseen item left to draw \(seen 20 of 20 items/);
  });

  test("the same seed gives the same negatives, another seed different ones", () => {
    const users = new Int32Array(100);
    const a = new UniformSampler(seen, numItems, { seed: 9 }).sampleBatch(users);
    const b = new UniformSampler(seen, numItems, { seed: 9 }).sampleBatch(users);
    const c = new UniformSampler(seen, numItems, { seed: 10 }).sampleBatch(users);
    assert.deepEqual(a, b);
    assert.notDeepEqual(a, c);
  });

  test("alias table reproduces its weights", () => {
    const weights = Float64Array.from([0, 1, 2, 3, 10, 0.5]);
    const { probability, alias } = buildAliasTable(weights);
    // Each column k contributes probability[k] to k and the rest to alias[k]; summed, that is weights / mean.
    const mass = new Float64Array(weights.length);
    for (let k = 0; k < weights.length; k++) {
      mass[k]! += probability[k]!;
      mass[alias[k]!]! += 1 - probability[k]!;
    }
    const mean = 16.5 / 6;
    for (let k = 0; k < weights.length; k++) assert.ok(Math.abs(mass[k]! - weights[k]! / mean) < 1e-9);
    assert.throws(() => buildAliasTable(new Float64Array(3)), /all weights are zero/);
  });
});

describe("sampleCandidates", () => {
  const { interactions } = generateEcommerce({ users: 50, items: 600, events: 8000, seed: 2 });
  const seen = buildUserItemIndex(interactions, 50);
  const popularity = itemPopularity(interactions, 600);

  test("draws distinct negatives outside the user's items and the positives", () => {
    const sampler = new PopularitySampler(seen, popularity, { seed: 1 });
    const rng = new DataRng(0);
    for (let user = 0; user < 50; user++) {
      const positive = rng.int(600);
      const candidates = sampleCandidates(user, [positive], 99, sampler);
      assert.equal(new Set(candidates).size, 99);
      for (const item of candidates) {
        assert.ok(item !== positive && !seen.has(user, item));
        assert.ok(popularity[item]! > 0, "popularity sampling never returns zero-weight items");
      }
    }
  });

  test("fails clearly when fewer candidates exist than requested", () => {
    const tiny = buildUserItemIndex(pairs([[0, 0]]), 1);
    const sampler = new UniformSampler(tiny, 5, { seed: 1 });
    assert.deepEqual(
      Array.from(sampleCandidates(0, [1], 3, sampler)).sort(),
      [2, 3, 4],
      "exactly the three remaining items",
    );
    assert.throws(() => sampleCandidates(0, [1], 4, sampler), /no unseen item left/);
  });
});
