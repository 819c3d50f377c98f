import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IdMap } from "../../src/data/idmap.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import type { Dataset } from "../../src/data/types.js";
import type { LiveEvent } from "../../src/online/model.js";
import { eventsOf, numberedStream, splitStream, timeOrder } from "../../src/online/stream.js";

/**
 * Eight rows out of time order, with ties (rows 1 and 5 at t = 10, rows 2 and 3 at t = 20); users with a
 * categorical and a numeric feature, items with a multi-valued one (lists of different lengths).
 */
function handmade(): Dataset {
  const users = IdMap.fromJSON(["alice", "bob", "carol", "dave"]);
  const items = IdMap.fromJSON(["p", "q", "r", "s", "t"]);
  const rows: [string, string, number][] = [
    ["bob", "q", 30],
    ["alice", "p", 10],
    ["carol", "r", 20],
    ["alice", "s", 20],
    ["dave", "t", 50],
    ["bob", "p", 10],
    ["carol", "q", 40],
    ["alice", "r", 60],
  ];
  return {
    name: "handmade",
    interactions: {
      length: rows.length,
      users: Int32Array.from(rows, ([u]) => users.get(u)!),
      items: Int32Array.from(rows, ([, i]) => items.get(i)!),
      values: Float32Array.from(rows, (_, r) => r + 0.5),
      timestamps: Float64Array.from(rows, ([, , t]) => t),
      eventTypes: Uint8Array.from(rows, (_, r) => r % 4),
    },
    users,
    items,
    userFeatures: {
      categorical: {
        tier: { vocab: IdMap.fromJSON(["[UNK]", "gold", "silver", "bronze"]), ids: Int32Array.from([1, 2, 1, 3]) },
      },
      multi: {},
      numeric: {
        age: {
          values: Float32Array.from([0.5, -1, 0, 2]),
          missing: Uint8Array.from([0, 0, 1, 0]),
          mean: 40,
          std: 10,
        },
      },
    },
    itemFeatures: {
      categorical: {},
      // p: [1, 2], q: [3], r: [0] (none), s: [2, 3, 1], t: [4]
      multi: {
        tags: {
          vocab: IdMap.fromJSON(["[UNK]", "a", "b", "c", "d"]),
          offsets: Int32Array.from([0, 2, 3, 4, 7, 8]),
          ids: Int32Array.from([1, 2, 3, 0, 2, 3, 1, 4]),
        },
      },
      numeric: {},
    },
  };
}

describe("live streams of interaction logs", () => {
  test("timeOrder and eventsOf: time order, equal times in file order, milliseconds", () => {
    const data = handmade();
    assert.deepEqual([...timeOrder(data.interactions)], [1, 5, 2, 3, 0, 6, 4, 7]);
    assert.deepEqual(eventsOf(data), [
      { user: "alice", item: "p", timestamp: 10_000 },
      { user: "bob", item: "p", timestamp: 10_000 },
      { user: "carol", item: "r", timestamp: 20_000 },
      { user: "alice", item: "s", timestamp: 20_000 },
      { user: "bob", item: "q", timestamp: 30_000 },
      { user: "carol", item: "q", timestamp: 40_000 },
      { user: "dave", item: "t", timestamp: 50_000 },
      { user: "alice", item: "r", timestamp: 60_000 },
    ]);
  });

  test("splitStream re-indexes the first part to its own ids, with their features; the rest streams", () => {
    const data = handmade();
    const { initial, stream } = splitStream(data, 0.5);
    assert.equal(initial.name, "handmade-initial");
    assert.deepEqual(initial.users.toJSON(), ["alice", "bob", "carol"]);
    assert.deepEqual(initial.items.toJSON(), ["p", "r", "s"]);
    const i = initial.interactions;
    assert.equal(i.length, 4);
    assert.deepEqual([...i.users], [0, 1, 2, 0]);
    assert.deepEqual([...i.items], [0, 0, 1, 2]);
    assert.deepEqual([...i.timestamps], [10, 10, 20, 20]);
    // Values and event types travel with their rows (file rows 1, 5, 2, 3).
    assert.deepEqual([...i.values], [1.5, 5.5, 2.5, 3.5]);
    assert.deepEqual([...i.eventTypes], [1, 1, 2, 3]);
    assert.deepEqual(stream, eventsOf(data).slice(4));

    const users = initial.userFeatures!;
    assert.equal(users.categorical.tier!.vocab, data.userFeatures!.categorical.tier!.vocab);
    assert.deepEqual([...users.categorical.tier!.ids], [1, 2, 1]);
    const age = users.numeric.age!;
    assert.deepEqual([...age.values], [0.5, -1, 0]);
    assert.deepEqual([...age.missing], [0, 0, 1]);
    assert.deepEqual([age.mean, age.std], [40, 10]);
    const tags = initial.itemFeatures!.multi.tags!;
    assert.equal(tags.vocab, data.itemFeatures!.multi.tags!.vocab);
    // p: [1, 2], r: [0], s: [2, 3, 1]
    assert.deepEqual([...tags.offsets], [0, 2, 3, 6]);
    assert.deepEqual([...tags.ids], [1, 2, 0, 2, 3, 1]);
  });

  test("the cut is at floor(share · rows); share must be inside (0, 1)", () => {
    const data = handmade();
    for (const [share, cut] of [
      [0.3, 2],
      [0.99, 7],
      [0.05, 0],
    ] as const) {
      const { initial, stream } = splitStream(data, share);
      assert.equal(initial.interactions.length, cut, `share ${share}`);
      assert.equal(stream.length, 8 - cut);
    }
    for (const bad of [0, 1, -0.5, 1.5, Number.NaN]) {
      assert.throws(() => splitStream(data, bad), /share must be in \(0, 1\)/);
    }
  });

  test("on the synthetic shop: the first part is the stream's past, every row and feature carried over", () => {
    const data = generateEcommerce({ users: 60, items: 40, events: 1500, seed: 3 });
    const share = 0.4;
    const { initial, stream } = splitStream(data, share);
    const all = eventsOf(data);
    const cut = Math.floor(share * data.interactions.length);
    assert.equal(initial.interactions.length, cut);
    assert.deepEqual(stream, all.slice(cut));
    for (let e = 1; e < stream.length; e++) assert.ok(stream[e]!.timestamp >= stream[e - 1]!.timestamp);
    const i = initial.interactions;
    let maxUser = -1;
    let maxItem = -1;
    for (let k = 0; k < cut; k++) {
      assert.equal(initial.users.external(i.users[k]!), all[k]!.user);
      assert.equal(initial.items.external(i.items[k]!), all[k]!.item);
      assert.equal(i.timestamps[k]! * 1000, all[k]!.timestamp);
      // Ids are numbered in order of first appearance.
      assert.ok(i.users[k]! <= maxUser + 1 && i.items[k]! <= maxItem + 1);
      maxUser = Math.max(maxUser, i.users[k]!);
      maxItem = Math.max(maxItem, i.items[k]!);
    }
    assert.equal(initial.users.size, new Set(all.slice(0, cut).map((e) => e.user)).size);
    assert.equal(initial.items.size, new Set(all.slice(0, cut).map((e) => e.item)).size);
    assert.ok(initial.users.size < data.users.size, "some users only arrive with the stream");
    assert.ok(stream[0]!.timestamp >= all[cut - 1]!.timestamp);

    const userFeatures = data.userFeatures!;
    for (let u = 0; u < initial.users.size; u++) {
      const original = data.users.get(initial.users.external(u))!;
      for (const [name, column] of Object.entries(initial.userFeatures!.categorical)) {
        assert.equal(column.ids[u], userFeatures.categorical[name]!.ids[original], `${name} of user ${u}`);
      }
    }
    const itemFeatures = data.itemFeatures!;
    assert.ok(Object.keys(itemFeatures.categorical).length > 0 && Object.keys(itemFeatures.numeric).length > 0);
    for (let it = 0; it < initial.items.size; it++) {
      const original = data.items.get(initial.items.external(it))!;
      for (const [name, column] of Object.entries(initial.itemFeatures!.categorical)) {
        assert.equal(column.ids[it], itemFeatures.categorical[name]!.ids[original], `${name} of item ${it}`);
      }
      for (const [name, column] of Object.entries(initial.itemFeatures!.numeric)) {
        assert.equal(column.values[it], itemFeatures.numeric[name]!.values[original], `${name} of item ${it}`);
        assert.equal(column.missing[it], itemFeatures.numeric[name]!.missing[original]);
      }
    }
  });

  test("numberedStream numbers ids in order of appearance and adapts a learner over external ids", async () => {
    const live: LiveEvent[] = [
      { user: "x", item: "b", timestamp: 1 },
      { user: "y", item: "a", timestamp: 2 },
      { user: "x", item: "a", timestamp: 3 },
    ];
    const numbered = numberedStream(live);
    assert.deepEqual(numbered.events, [
      { user: 0, item: 0, timestamp: 1 },
      { user: 1, item: 1, timestamp: 2 },
      { user: 0, item: 1, timestamp: 3 },
    ]);
    assert.equal(numbered.numItems, 2);
    const calls: unknown[] = [];
    const learner = numbered.learner(
      (user, history, items) => {
        calls.push([user, history, items]);
        return Float32Array.from(items, (_, k) => k);
      },
      (events) => {
        calls.push(events);
      },
    );
    assert.deepEqual([...learner.score(1, Int32Array.from([1]), Int32Array.from([0, 1]))], [0, 1]);
    await learner.learn(numbered.events.slice(1));
    assert.deepEqual(calls, [["y", ["a"], ["b", "a"]], live.slice(1)]);
  });
});
