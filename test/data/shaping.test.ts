import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { IdMap } from "../../src/data/idmap.js";
import {
  compactIds,
  deduplicate,
  groupRowsByUser,
  kCore,
  makeInteractions,
  select,
  toImplicit,
} from "../../src/data/shaping.js";
import { EVENT_TYPES, type Dataset, type EventType, type Interactions } from "../../src/data/types.js";

const code = (type: EventType) => EVENT_TYPES.indexOf(type);

/** A log from rows [user, item, value, timestamp, eventType]. */
function log(rows: [number, number, number, number, EventType][]): Interactions {
  return makeInteractions({
    users: Int32Array.from(rows, (r) => r[0]),
    items: Int32Array.from(rows, (r) => r[1]),
    values: Float32Array.from(rows, (r) => r[2]),
    timestamps: Float64Array.from(rows, (r) => r[3]),
    eventTypes: Uint8Array.from(rows, (r) => code(r[4])),
  });
}

function rowsOf(x: Interactions): [number, number, number, number, string][] {
  return Array.from({ length: x.length }, (_, r) => [
    x.users[r]!,
    x.items[r]!,
    x.values[r]!,
    x.timestamps[r]!,
    EVENT_TYPES[x.eventTypes[r]!]!,
  ]);
}

describe("select and grouping", () => {
  test("select copies the requested rows in the given order", () => {
    const x = log([
      [0, 1, 1, 10, "view"],
      [1, 2, 2, 20, "click"],
      [2, 3, 3, 30, "cart"],
    ]);
    const picked = select(x, [2, 0]);
    assert.deepEqual(rowsOf(picked), [
      [2, 3, 3, 30, "cart"],
      [0, 1, 1, 10, "view"],
    ]);
    picked.values[0] = 99;
    assert.equal(x.values[2], 3, "select must copy, not alias");
    assert.throws(() => select(x, [3]), RangeError);
  });

  test("makeInteractions rejects columns of different lengths", () => {
    assert.throws(
      () =>
        makeInteractions({
          users: new Int32Array(2),
          items: new Int32Array(1),
          values: new Float32Array(2),
          timestamps: new Float64Array(2),
          eventTypes: new Uint8Array(2),
        }),
      /column items has 1 rows, expected 2/,
    );
  });

  test("groupRowsByUser is a stable counting sort", () => {
    const x = log([
      [1, 0, 1, 0, "view"],
      [0, 0, 1, 0, "view"],
      [1, 1, 1, 0, "view"],
      [0, 1, 1, 0, "view"],
    ]);
    const { offsets, rows } = groupRowsByUser(x, 3);
    assert.deepEqual(Array.from(offsets), [0, 2, 4, 4]);
    assert.deepEqual(Array.from(rows), [1, 3, 0, 2]);
  });
});

describe("toImplicit", () => {
  const x = log([
    [0, 0, 5, 1, "rating"],
    [0, 1, 2, 2, "rating"],
    [1, 0, 1, 3, "view"],
    [1, 1, 1, 4, "purchase"],
    [1, 2, 4, 5, "rating"],
  ]);

  test("drops ratings below the threshold and sets default event weights", () => {
    const implicit = toImplicit(x, { ratingThreshold: 4 });
    assert.deepEqual(rowsOf(implicit), [
      [0, 0, 1, 1, "rating"],
      [1, 0, 1, 3, "view"],
      [1, 1, 5, 4, "purchase"],
      [1, 2, 1, 5, "rating"],
    ]);
  });

  test("custom weights override the defaults and no threshold keeps every row", () => {
    const implicit = toImplicit(x, { eventWeights: { view: 0.5, rating: 2 } });
    assert.deepEqual(Array.from(implicit.values), [2, 2, 0.5, 5, 2]);
  });
});

describe("deduplicate", () => {
  // User 0 has item 7 three times (out of time order) and item 8 once; user 1 has item 7 once.
  const x = log([
    [0, 7, 2, 30, "view"],
    [1, 7, 1, 5, "view"],
    [0, 7, 5, 10, "cart"],
    [0, 8, 1, 15, "view"],
    [0, 7, 1, 20, "click"],
  ]);

  test("first keeps the earliest row of each pair", () => {
    assert.deepEqual(rowsOf(deduplicate(x, "first")), [
      [1, 7, 1, 5, "view"],
      [0, 7, 5, 10, "cart"],
      [0, 8, 1, 15, "view"],
    ]);
  });

  test("last keeps the latest row of each pair", () => {
    assert.deepEqual(rowsOf(deduplicate(x, "last")), [
      [0, 7, 2, 30, "view"],
      [1, 7, 1, 5, "view"],
      [0, 8, 1, 15, "view"],
    ]);
  });

  test("max keeps the largest value", () => {
    assert.deepEqual(rowsOf(deduplicate(x, "max")), [
      [1, 7, 1, 5, "view"],
      [0, 7, 5, 10, "cart"],
      [0, 8, 1, 15, "view"],
    ]);
  });

  test("sum adds values, with the latest time and the deepest event", () => {
    assert.deepEqual(rowsOf(deduplicate(x, "sum")), [
      [1, 7, 1, 5, "view"],
      [0, 7, 8, 30, "cart"],
      [0, 8, 1, 15, "view"],
    ]);
    assert.equal(x.values[2], 5, "the input is left untouched");
  });
});

describe("kCore", () => {
  test("iterates to a fixed point", () => {
    // Dropping item 3 (one row) leaves user 2 with a single row, which must then go too, leaving item 2 with one.
    const x = log([
      [0, 0, 1, 0, "view"],
      [0, 1, 1, 0, "view"],
      [1, 0, 1, 0, "view"],
      [1, 1, 1, 0, "view"],
      [2, 2, 1, 0, "view"],
      [2, 3, 1, 0, "view"],
      [0, 2, 1, 0, "view"],
    ]);
    const core = kCore(x, { userMin: 2, itemMin: 2 });
    assert.deepEqual(
      rowsOf(core).map((r) => [r[0], r[1]]),
      [
        [0, 0],
        [0, 1],
        [1, 0],
        [1, 1],
      ],
    );
  });

  test("every survivor meets both minimums on a random log", () => {
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const rows: [number, number, number, number, EventType][] = [];
    for (let k = 0; k < 3000; k++)
      rows.push([Math.floor(next() ** 2 * 300), Math.floor(next() ** 2 * 200), 1, k, "view"]);
    const core = kCore(log(rows), { userMin: 5, itemMin: 4 });
    assert.ok(core.length > 0 && core.length < rows.length);
    const userCounts = new Map<number, number>();
    const itemCounts = new Map<number, number>();
    for (let r = 0; r < core.length; r++) {
      userCounts.set(core.users[r]!, (userCounts.get(core.users[r]!) ?? 0) + 1);
      itemCounts.set(core.items[r]!, (itemCounts.get(core.items[r]!) ?? 0) + 1);
    }
    assert.ok(Math.min(...userCounts.values()) >= 5);
    assert.ok(Math.min(...itemCounts.values()) >= 4);
  });
});

describe("compactIds", () => {
  test("renumbers present users and items and slices their features", () => {
    const users = IdMap.fromJSON(["a", "b", "c"]);
    const items = IdMap.fromJSON(["x", "y", "z", "w"]);
    const vocab = IdMap.fromJSON(["", "red", "blue"]);
    const dataset: Dataset = {
      name: "tiny",
      interactions: log([
        [2, 3, 1, 0, "view"],
        [0, 1, 1, 0, "view"],
        [2, 1, 1, 0, "view"],
      ]),
      users,
      items,
      itemFeatures: {
        categorical: { colour: { vocab, ids: Int32Array.from([1, 2, 0, 1]) } },
        multi: {
          tags: { vocab, offsets: Int32Array.from([0, 1, 3, 3, 4]), ids: Int32Array.from([1, 1, 2, 2]) },
        },
        numeric: {
          price: { values: Float32Array.from([0, 1, 2, 3]), missing: Uint8Array.from([0, 0, 1, 0]), mean: 5, std: 2 },
        },
      },
    };
    const compact = compactIds(dataset);
    assert.deepEqual(compact.users.toJSON(), ["a", "c"]);
    assert.deepEqual(compact.items.toJSON(), ["y", "w"]);
    assert.deepEqual(Array.from(compact.interactions.users), [1, 0, 1]);
    assert.deepEqual(Array.from(compact.interactions.items), [1, 0, 0]);
    const features = compact.itemFeatures!;
    assert.deepEqual(Array.from(features.categorical.colour!.ids), [2, 1]);
    assert.deepEqual(Array.from(features.multi.tags!.offsets), [0, 2, 3]);
    assert.deepEqual(Array.from(features.multi.tags!.ids), [1, 2, 2]);
    assert.deepEqual(Array.from(features.numeric.price!.values), [1, 3]);
    assert.equal(features.numeric.price!.mean, 5);
    assert.equal(compact.userFeatures, undefined);
  });
});
