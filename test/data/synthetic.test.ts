import { createHash } from "node:crypto";
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserItemIndex, itemPopularity, sampleCandidates, UniformSampler } from "../../src/data/sampling.js";
import { leaveOneOut } from "../../src/data/splits.js";
import {
  defaultSyntheticConfig,
  generateEcommerce,
  structurelessSynthetic,
  type SyntheticConfig,
} from "../../src/data/synthetic.js";
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
    assert.throws(() => generateEcommerce({ sessionIntent: 1.5 }), /sessionIntent/);
    assert.throws(() => generateEcommerce({ complementRate: -0.1 }), /complementRate/);
    assert.throws(() => generateEcommerce({ featureCross: -1 }), /featureCross/);
    assert.throws(() => generateEcommerce({ popularityDrift: Number.NaN }), /popularityDrift/);
  });
});

/** SHA-256 of the log's columns. */
function logHash(x: ReturnType<typeof generateEcommerce>["interactions"]): string {
  const hash = createHash("sha256");
  for (const column of [x.users, x.items, x.timestamps, x.eventTypes]) {
    hash.update(Buffer.from(column.buffer, column.byteOffset, column.byteLength));
  }
  return hash.digest("hex");
}

/** Rows of each session (a user's consecutive rows), views only: pairs of consecutive viewed items. */
function consecutiveViews(x: ReturnType<typeof generateEcommerce>["interactions"]): Array<[number, number]> {
  const view = EVENT_TYPES.indexOf("view");
  const pairs: Array<[number, number]> = [];
  let previous = -1;
  for (let r = 0; r < x.length; r++) {
    if (r > 0 && x.users[r] !== x.users[r - 1]) previous = -1;
    if (x.eventTypes[r] !== view) continue;
    if (previous >= 0 && x.items[r] !== previous) pairs.push([previous, x.items[r]!]);
    previous = x.items[r]!;
  }
  return pairs;
}

describe("the shop's structures", () => {
  const off: Partial<SyntheticConfig> = { ...small, seed: 3, ...structurelessSynthetic };
  const only = (setting: Partial<SyntheticConfig>) => generateEcommerce({ ...off, ...setting });

  test("with all four switched off, the log is the structureless shop's (pinned before they existed)", () => {
    const x = generateEcommerce({ ...small, seed: 7, ...structurelessSynthetic }).interactions;
    assert.equal(logHash(x), "0fe0a9febe952a1c1a8dc7131405249a766dc54bfa909ac9818d7f41ec829c5c");
    assert.notEqual(logHash(generateEcommerce({ ...small, seed: 7 }).interactions), logHash(x));
  });

  test("sequential intent: consecutive views in a session share a brand far more often", (t) => {
    const sameBrandShare = (dataset: ReturnType<typeof generateEcommerce>) => {
      const brand = dataset.itemFeatures!.categorical.brand!.ids;
      const pairs = consecutiveViews(dataset.interactions);
      return pairs.filter(([a, b]) => brand[a] === brand[b]).length / pairs.length;
    };
    const without = sameBrandShare(only({}));
    const withIntent = sameBrandShare(only({ sessionIntent: 0.7 }));
    t.diagnostic(
      `same-brand share of consecutive views ${withIntent.toFixed(3)} with intent, ${without.toFixed(3)} without`,
    );
    assert.ok(withIntent > 2 * without + 0.05, `same-brand share ${withIntent.toFixed(3)} vs ${without.toFixed(3)}`);
  });

  test("complements: after a cart, the carted item's complementary category is viewed more than without", (t) => {
    // The complement relation is hidden, so measure it as the data shows it: for each category, the share of
    // a user's views after carting an item of it that fall in the category most viewed after such carts.
    const afterCartConcentration = (dataset: ReturnType<typeof generateEcommerce>) => {
      const x = dataset.interactions;
      const category = dataset.itemFeatures!.categorical.category!.ids;
      const categories = dataset.itemFeatures!.categorical.category!.vocab.size;
      const cart = EVENT_TYPES.indexOf("cart");
      const view = EVENT_TYPES.indexOf("view");
      const follows = new Float64Array(categories * categories);
      const lastCart = new Int32Array(small.users).fill(-1);
      for (let r = 0; r < x.length; r++) {
        const user = x.users[r]!;
        const c = category[x.items[r]!]!;
        if (x.eventTypes[r] === cart) lastCart[user] = c;
        else if (x.eventTypes[r] === view && lastCart[user]! >= 0 && lastCart[user] !== c) {
          follows[lastCart[user]! * categories + c]!++;
        }
      }
      let top = 0;
      let total = 0;
      for (let a = 0; a < categories; a++) {
        const row = follows.subarray(a * categories, (a + 1) * categories);
        top += Math.max(...row);
        for (const value of row) total += value;
      }
      return top / total;
    };
    const without = afterCartConcentration(only({}));
    const withComplements = afterCartConcentration(only({ complementRate: 0.3 }));
    t.diagnostic(`top-follower share ${withComplements.toFixed(3)} with complements, ${without.toFixed(3)} without`);
    assert.ok(
      withComplements > without + 0.05,
      `top-follower share ${withComplements.toFixed(3)} vs ${without.toFixed(3)}`,
    );
  });

  test("feature crosses: a user feature × item feature interaction appears only with them on", (t) => {
    // Share of views explained by region × category beyond region and category alone: the mean absolute
    // log ratio of the observed region × category counts to the independence model's.
    const interaction = (dataset: ReturnType<typeof generateEcommerce>) => {
      const x = dataset.interactions;
      const region = dataset.userFeatures!.categorical.region!.ids;
      const category = dataset.itemFeatures!.categorical.category!.ids;
      const regions = dataset.userFeatures!.categorical.region!.vocab.size;
      const categories = dataset.itemFeatures!.categorical.category!.vocab.size;
      const table = new Float64Array(regions * categories).fill(0.5);
      for (let r = 0; r < x.length; r++) table[region[x.users[r]!]! * categories + category[x.items[r]!]!]!++;
      const rowSum = new Float64Array(regions);
      const columnSum = new Float64Array(categories);
      let total = 0;
      for (let a = 1; a < regions; a++) {
        for (let c = 1; c < categories; c++) {
          const value = table[a * categories + c]!;
          rowSum[a]! += value;
          columnSum[c]! += value;
          total += value;
        }
      }
      let deviation = 0;
      for (let a = 1; a < regions; a++) {
        for (let c = 1; c < categories; c++) {
          deviation += Math.abs(Math.log((table[a * categories + c]! * total) / (rowSum[a]! * columnSum[c]!)));
        }
      }
      return deviation / ((regions - 1) * (categories - 1));
    };
    const without = interaction(only({}));
    const withCrosses = interaction(only({ featureCross: 1 }));
    t.diagnostic(`region × category interaction ${withCrosses.toFixed(3)} with crosses, ${without.toFixed(3)} without`);
    assert.ok(withCrosses > 1.5 * without, `interaction ${withCrosses.toFixed(3)} vs ${without.toFixed(3)}`);
  });

  test("popularity drift: item popularity in the first and last third of the timeline differs more", (t) => {
    const change = (dataset: ReturnType<typeof generateEcommerce>) => {
      const x = dataset.interactions;
      const first = new Float64Array(small.items);
      const last = new Float64Array(small.items);
      const third = Math.floor(x.length / 3);
      for (let r = 0; r < third; r++) first[x.items[r]!]!++;
      for (let r = x.length - third; r < x.length; r++) last[x.items[r]!]!++;
      let distance = 0;
      for (let i = 0; i < small.items; i++) distance += Math.abs(first[i]! - last[i]!) / third;
      return distance / 2;
    };
    const without = change(only({}));
    const withDrift = change(only({ popularityDrift: 0.3 }));
    t.diagnostic(
      `total variation first vs last third ${withDrift.toFixed(3)} with drift, ${without.toFixed(3)} without`,
    );
    assert.ok(withDrift > without + 0.1, `total variation ${withDrift.toFixed(3)} vs ${without.toFixed(3)}`);
  });

  test("each structure is seeded: the same settings give the same log", () => {
    const settings = { sessionIntent: 0.7, complementRate: 0.2, featureCross: 1, popularityDrift: 0.3 };
    assert.equal(logHash(only(settings).interactions), logHash(only(settings).interactions));
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
