import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserItemIndex, itemPopularity, sampleCandidates, UniformSampler } from "../../src/data/sampling.js";
import { leaveOneOut } from "../../src/data/splits.js";
import { defaultSyntheticConfig, generateEcommerce } from "../../src/data/synthetic.js";
import { EVENT_TYPES } from "../../src/data/types.js";
import { UNKNOWN_TOKEN } from "../../src/data/features.js";

const small = { users: 1000, items: 800, events: 60_000 };

describe("generateEcommerce", () => {
  const dataset = generateEcommerce({ ...small, seed: 7 });
  const x = dataset.interactions;

  test("has the requested sizes and consistent features", () => {
    assert.equal(x.length, small.events);
    assert.equal(dataset.users.size, small.users);
    assert.equal(dataset.items.size, small.items);
    assert.ok(x.users.every((u) => u >= 0 && u < small.users));
    assert.ok(x.items.every((i) => i >= 0 && i < small.items));
    const items = dataset.itemFeatures!;
    const categories = items.categorical.category!;
    assert.equal(categories.ids.length, small.items);
    assert.equal(categories.vocab.size, defaultSyntheticConfig.categories + 1, "index 0 is the missing token");
    assert.equal(categories.vocab.external(0), UNKNOWN_TOKEN);
    assert.ok(categories.ids.every((id) => id >= 1 && id <= defaultSyntheticConfig.categories));
    assert.equal(items.categorical.brand!.ids.length, small.items);
    const price = items.numeric.price!;
    assert.ok(price.mean > 0 && price.std > 0);
    const realPrices = Array.from(price.values, (z) => z * price.std + price.mean);
    assert.ok(realPrices.every((p) => p > 0.99 - 1e-3));
    const users = dataset.userFeatures!;
    assert.equal(users.categorical.region!.ids.length, small.users);
    assert.equal(users.categorical.age_band!.vocab.external(1), "18-24");
  });

  test("is deterministic per seed and differs across seeds", () => {
    const again = generateEcommerce({ ...small, seed: 7 }).interactions;
    assert.deepEqual(again, x);
    const other = generateEcommerce({ ...small, seed: 8 }).interactions;
    assert.notDeepEqual(other.items, x.items);
  });

  test("timestamps never decrease and span the configured days", () => {
    for (let r = 1; r < x.length; r++) assert.ok(x.timestamps[r]! >= x.timestamps[r - 1]!);
    const days = (x.timestamps[x.length - 1]! - x.timestamps[0]!) / 86400;
    assert.ok(Math.abs(days - defaultSyntheticConfig.days) < 0.1 * defaultSyntheticConfig.days, `span ${days} days`);
  });

  test("the funnel narrows: views ≥ clicks ≥ carts ≥ purchases, and every step follows the previous one", () => {
    const counts = [0, 0, 0, 0, 0];
    for (const type of x.eventTypes) counts[type]!++;
    const [views, clicks, carts, purchases, ratings] = counts as [number, number, number, number, number];
    assert.ok(views > clicks && clicks > carts && carts > purchases && purchases > 0, counts.join(" "));
    assert.equal(ratings, 0);
    const view = EVENT_TYPES.indexOf("view");
    for (let r = 1; r < x.length; r++) {
      if (x.eventTypes[r] === view) continue;
      assert.equal(x.eventTypes[r - 1], x.eventTypes[r]! - 1, `row ${r} continues the previous step`);
      assert.equal(x.items[r - 1], x.items[r]);
      assert.equal(x.users[r - 1], x.users[r]);
    }
  });

  test("popularity is Zipf-like: the top 10% of items take most events", () => {
    const counts = Array.from(itemPopularity(x, small.items)).sort((a, b) => b - a);
    const top = counts.slice(0, small.items / 10).reduce((a, b) => a + b, 0);
    assert.ok(top / x.length > 0.4, `top-10% share ${(top / x.length).toFixed(2)}`);
    assert.ok(top / x.length < 0.95);
  });

  test("rejects nonsensical settings", () => {
    assert.throws(() => generateEcommerce({ users: 0 }), /users must be a positive integer/);
    assert.throws(() => generateEcommerce({ drift: 2 }), /drift/);
  });
});

describe("learnability", () => {
  test("a user-category affinity scorer beats popularity on leave-one-out HR@10 with 99 negatives", (t) => {
    const dataset = generateEcommerce({ ...small, seed: 11 });
    const split = leaveOneOut(dataset.interactions);
    const category = dataset.itemFeatures!.categorical.category!.ids;
    const numCategories = dataset.itemFeatures!.categorical.category!.vocab.size;
    const popularity = itemPopularity(split.train, small.items);
    const userCategory = new Float64Array(small.users * numCategories);
    const userTotal = new Float64Array(small.users);
    for (let r = 0; r < split.train.length; r++) {
      userCategory[split.train.users[r]! * numCategories + category[split.train.items[r]!]!]!++;
      userTotal[split.train.users[r]!]!++;
    }
    const popularityScore = (_user: number, item: number) => popularity[item]!;
    // Smoothed share of the user's history in the item's category, times the item's popularity.
    const affinityScore = (user: number, item: number) =>
      ((userCategory[user * numCategories + category[item]!]! + 0.5) / (userTotal[user]! + 0.5 * numCategories)) *
      (popularity[item]! + 1);

    const seen = buildUserItemIndex(split.train, small.users);
    const sampler = new UniformSampler(seen, small.items, { seed: 1 });
    const validItem = new Map(Array.from(split.valid.users, (u, r) => [u, split.valid.items[r]!]));
    let popularityHits = 0;
    let affinityHits = 0;
    for (let r = 0; r < split.test.length; r++) {
      const user = split.test.users[r]!;
      const positive = split.test.items[r]!;
      const negatives = sampleCandidates(user, [positive, validItem.get(user)!], 99, sampler);
      const hit = (score: (u: number, i: number) => number) => {
        const target = score(user, positive);
        let better = 0;
        for (const item of negatives) if (score(user, item) > target) better++;
        return better < 10 ? 1 : 0;
      };
      popularityHits += hit(popularityScore);
      affinityHits += hit(affinityScore);
    }
    const popularityHr = popularityHits / split.test.length;
    const affinityHr = affinityHits / split.test.length;
    t.diagnostic(`HR@10 affinity ${affinityHr.toFixed(3)}, popularity ${popularityHr.toFixed(3)}`);
    assert.ok(split.test.length > 800);
    assert.ok(
      affinityHr > popularityHr + 0.05,
      `HR@10 affinity ${affinityHr.toFixed(3)} vs popularity ${popularityHr.toFixed(3)}`,
    );
  });
});
