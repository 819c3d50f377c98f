import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { makeInteractions } from "../../src/data/shaping.js";
import { coldStartSplit, leaveOneOut, randomSplit, temporalSplit } from "../../src/data/splits.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { EVENT_TYPES, type Interactions } from "../../src/data/types.js";

const ML100K = resolve(process.cwd(), "../shared/data/ml-100k/ml-100k.inter");

/** Parses a RecBole .inter file (user, item, rating, timestamp), ids densified in first-seen order. */
function readMl100k(path: string): Interactions {
  const lines = readFileSync(path, "utf8").split("\n").slice(1).filter(Boolean);
  const userIds = new Map<string, number>();
  const itemIds = new Map<string, number>();
  const dense = (map: Map<string, number>, id: string) => map.get(id) ?? map.set(id, map.size).get(id)!;
  const fields = lines.map((line) => line.split("\t"));
  return makeInteractions({
    users: Int32Array.from(fields, (f) => dense(userIds, f[0]!)),
    items: Int32Array.from(fields, (f) => dense(itemIds, f[1]!)),
    values: Float32Array.from(fields, (f) => Number(f[2])),
    timestamps: Float64Array.from(fields, (f) => Number(f[3])),
    eventTypes: new Uint8Array(fields.length).fill(EVENT_TYPES.indexOf("rating")),
  });
}

/** A log where row r has timestamp r (so rows are identified by their timestamp) and random users/items. */
function numberedLog(n: number, users: number, items: number): Interactions {
  const { interactions } = generateEcommerce({ users, items, events: n, seed: 3 });
  return makeInteractions({ ...interactions, timestamps: Float64Array.from({ length: n }, (_, r) => r) });
}

/** Row ids (the timestamps of numberedLog) of each part. */
function rowIds(x: Interactions | undefined): number[] {
  return x ? Array.from(x.timestamps) : [];
}

function assertPartition(input: Interactions, parts: (Interactions | undefined)[]): void {
  const all = parts.flatMap(rowIds).sort((a, b) => a - b);
  assert.deepEqual(all, rowIds(input), "parts must be disjoint and cover the input");
}

describe("randomSplit", () => {
  const x = numberedLog(10_000, 300, 200);

  test("partitions rows by the requested ratios", () => {
    const split = randomSplit(x, { ratios: [0.8, 0.1, 0.1], seed: 1 });
    assertPartition(x, [split.train, split.valid, split.test]);
    assert.equal(split.train.length, 8000);
    assert.equal(split.valid!.length, 1000);
    assert.equal(split.test.length, 1000);
  });

  test("two ratios give no validation part", () => {
    const split = randomSplit(x, { ratios: [3, 1], seed: 1 });
    assert.equal(split.valid, undefined);
    assert.equal(split.test.length, 2500);
    assertPartition(x, [split.train, split.test]);
  });

  test("is reproducible per seed and differs across seeds", () => {
    const a = randomSplit(x, { ratios: [0.8, 0.2], seed: 5 });
    const b = randomSplit(x, { ratios: [0.8, 0.2], seed: 5 });
    const c = randomSplit(x, { ratios: [0.8, 0.2], seed: 6 });
    assert.deepEqual(rowIds(a.test), rowIds(b.test));
    assert.notDeepEqual(rowIds(a.test), rowIds(c.test));
  });

  test("rejects negative ratios", () => {
    assert.throws(() => randomSplit(x, { ratios: [1, -1], seed: 0 }), RangeError);
  });
});

describe("temporalSplit", () => {
  test("every train row precedes every valid row, which precedes every test row", () => {
    const { interactions } = generateEcommerce({ users: 200, items: 100, events: 5000, seed: 9 });
    const split = temporalSplit(interactions, { ratios: [0.7, 0.15, 0.15] });
    const maxTrain = Math.max(...split.train.timestamps);
    const minValid = Math.min(...split.valid!.timestamps);
    const maxValid = Math.max(...split.valid!.timestamps);
    const minTest = Math.min(...split.test.timestamps);
    assert.ok(maxTrain < minValid && maxValid < minTest);
    assert.equal(split.train.length + split.valid!.length + split.test.length, interactions.length);
    assert.ok(Math.abs(split.train.length - 3500) < 50);
  });

  test("rows sharing a timestamp stay on the same side of the cut", () => {
    const x = makeInteractions({
      users: new Int32Array(6),
      items: Int32Array.from([0, 1, 2, 3, 4, 5]),
      values: new Float32Array(6),
      timestamps: Float64Array.from([1, 2, 2, 2, 3, 4]),
      eventTypes: new Uint8Array(6),
    });
    const split = temporalSplit(x, { ratios: [0.5, 0.5] });
    assert.deepEqual(Array.from(split.train.items), [0]);
    assert.deepEqual(Array.from(split.test.items), [1, 2, 3, 4, 5]);
  });
});

describe("leaveOneOut", () => {
  test("holds out the last and second-to-last distinct items by (timestamp, item)", () => {
    // User 0: item 5 twice, a timestamp tie between items 4 and 2 (broken by item index). User 1: 2 items only.
    const x = makeInteractions({
      users: Int32Array.from([0, 0, 0, 1, 0, 1, 0]),
      items: Int32Array.from([5, 4, 2, 9, 5, 8, 1]),
      values: new Float32Array(7).fill(1),
      timestamps: Float64Array.from([1, 3, 3, 1, 4, 2, 0]),
      eventTypes: new Uint8Array(7),
    });
    const split = leaveOneOut(x);
    assert.deepEqual(Array.from(split.test.items), [4]);
    assert.deepEqual(Array.from(split.valid.items), [2]);
    assert.deepEqual(Array.from(split.train.users), [0, 1, 1, 0]);
    assert.deepEqual(Array.from(split.train.items), [5, 9, 8, 1]);
  });

  test("on a synthetic log: one test row per eligible user, never in train, never earlier than train", () => {
    const { interactions } = generateEcommerce({ users: 300, items: 200, events: 20_000, seed: 4 });
    const split = leaveOneOut(interactions);
    const trainItems = new Map<number, Set<number>>();
    const lastTrainTime = new Map<number, number>();
    for (let r = 0; r < split.train.length; r++) {
      const u = split.train.users[r]!;
      if (!trainItems.has(u)) trainItems.set(u, new Set());
      trainItems.get(u)!.add(split.train.items[r]!);
      lastTrainTime.set(u, Math.max(lastTrainTime.get(u) ?? -Infinity, split.train.timestamps[r]!));
    }
    const testUsers = new Set<number>();
    for (let r = 0; r < split.test.length; r++) {
      const u = split.test.users[r]!;
      assert.ok(!testUsers.has(u), "one test row per user");
      testUsers.add(u);
      assert.ok(!trainItems.get(u)!.has(split.test.items[r]!), "test item not in the user's train items");
      assert.ok(split.test.timestamps[r]! >= lastTrainTime.get(u)!);
      assert.ok(trainItems.get(u)!.size >= 1);
    }
    assert.equal(split.valid.length, split.test.length);
    assert.ok(split.test.length > 250);
  });

  test("matches the PyTorch reference's loo_split on ml-100k", (t) => {
    if (!existsSync(ML100K)) return t.skip("ml-100k not found at ../shared/data/ml-100k");
    const x = readMl100k(ML100K);
    const split = leaveOneOut(x);
    // The reference: sort (timestamp, item) per user, keep first occurrences, last two are test and valid.
    const events = new Map<number, [number, number][]>();
    for (let r = 0; r < x.length; r++) {
      if (!events.has(x.users[r]!)) events.set(x.users[r]!, []);
      events.get(x.users[r]!)!.push([x.timestamps[r]!, x.items[r]!]);
    }
    const expectedTest = new Map<number, number>();
    const expectedValid = new Map<number, number>();
    let expectedTrain = 0;
    for (const [u, list] of events) {
      list.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
      const distinct = [...new Set(list.map((e) => e[1]))];
      if (distinct.length < 3) {
        expectedTrain += distinct.length;
        continue;
      }
      expectedTrain += distinct.length - 2;
      expectedValid.set(u, distinct[distinct.length - 2]!);
      expectedTest.set(u, distinct[distinct.length - 1]!);
    }
    const actualTest = new Map(Array.from(split.test.users, (u, r) => [u, split.test.items[r]!]));
    const actualValid = new Map(Array.from(split.valid.users, (u, r) => [u, split.valid.items[r]!]));
    assert.equal(actualTest.size, 943);
    assert.deepEqual(actualTest, expectedTest);
    assert.deepEqual(actualValid, expectedValid);
    assert.equal(split.train.length, expectedTrain);
  });
});

describe("coldStartSplit", () => {
  const { interactions } = generateEcommerce({ users: 400, items: 300, events: 20_000, seed: 8 });

  for (const kind of ["user", "item"] as const) {
    test(`held-out ${kind}s never appear in train`, () => {
      const split = coldStartSplit(interactions, { kind, fraction: 0.2, validFraction: 0.1, seed: 2 });
      const ids = (x: Interactions) => (kind === "user" ? x.users : x.items);
      const trainIds = new Set(ids(split.train));
      for (const id of split.testIds) assert.ok(!trainIds.has(id));
      for (const id of split.validIds) assert.ok(!trainIds.has(id));
      const testIds = new Set(split.testIds);
      const validIds = new Set(split.validIds);
      assert.ok(ids(split.test).every((id) => testIds.has(id)));
      assert.ok(ids(split.valid!).every((id) => validIds.has(id)));
      assert.equal(split.train.length + split.valid!.length + split.test.length, interactions.length);
      const present = new Set(ids(interactions)).size;
      assert.equal(split.testIds.length, Math.round(present * 0.2));
      assert.equal(split.validIds.length, Math.round(present * 0.1));
    });
  }

  test("is reproducible per seed and differs across seeds", () => {
    const a = coldStartSplit(interactions, { kind: "user", fraction: 0.1, seed: 1 });
    const b = coldStartSplit(interactions, { kind: "user", fraction: 0.1, seed: 1 });
    const c = coldStartSplit(interactions, { kind: "user", fraction: 0.1, seed: 2 });
    assert.deepEqual(a.testIds, b.testIds);
    assert.notDeepEqual(a.testIds, c.testIds);
    assert.equal(a.valid, undefined);
  });
});
