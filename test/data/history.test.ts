import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { buildUserHistories } from "../../src/data/history.js";
import { makeInteractions } from "../../src/data/shaping.js";
import { generateEcommerce } from "../../src/data/synthetic.js";

describe("user histories", () => {
  // Rows out of time order, with a tie at t=5 (log order decides) and user 2 without rows.
  const x = makeInteractions({
    users: Int32Array.from([0, 1, 0, 0, 1, 0]),
    items: Int32Array.from([10, 20, 11, 12, 21, 13]),
    values: Float32Array.from([1, 2, 3, 4, 5, 6]),
    timestamps: Float64Array.from([9, 1, 5, 2, 3, 5]),
    eventTypes: Uint8Array.from([0, 1, 2, 3, 0, 1]),
  });
  const histories = buildUserHistories(x, 3);

  test("orders each user's rows by time, ties in log order", () => {
    assert.deepEqual(Array.from(histories.offsets), [0, 4, 6, 6]);
    assert.deepEqual(Array.from(histories.items), [12, 11, 13, 10, 20, 21]);
    assert.deepEqual(Array.from(histories.timestamps.subarray(0, 4)), [2, 5, 5, 9]);
    assert.deepEqual(Array.from(histories.eventTypes.subarray(0, 4)), [3, 2, 1, 0]);
    assert.deepEqual(Array.from(histories.values.subarray(4)), [2, 5]);
    assert.equal(histories.length(0), 4);
    assert.equal(histories.length(2), 0);
  });

  test("recent returns the last k items, oldest first", () => {
    assert.deepEqual(Array.from(histories.recent(0, 2)), [13, 10]);
    assert.deepEqual(Array.from(histories.recent(0, 10)), [12, 11, 13, 10]);
    assert.deepEqual(Array.from(histories.recent(2, 3)), []);
  });

  test("recent only sees rows strictly before the given time", () => {
    assert.deepEqual(Array.from(histories.recent(0, 2, 9)), [11, 13]);
    assert.deepEqual(Array.from(histories.recent(0, 5, 5)), [12]);
    assert.deepEqual(Array.from(histories.recent(0, 5, 2)), []);
    assert.deepEqual(Array.from(histories.recent(1, 1, 100)), [21]);
  });

  test("agrees with a brute-force filter on a synthetic log", () => {
    const { interactions } = generateEcommerce({ users: 50, items: 80, events: 3000, seed: 12 });
    const built = buildUserHistories(interactions, 50);
    for (const [user, k, before] of [
      [3, 5, Infinity],
      [7, 3, interactions.timestamps[1500]!],
      [11, 50, interactions.timestamps[2500]!],
    ] as const) {
      const rows: number[] = [];
      for (let r = 0; r < interactions.length; r++) {
        if (interactions.users[r] === user && interactions.timestamps[r]! < before) rows.push(r);
      }
      const expected = rows.slice(-k).map((r) => interactions.items[r]!);
      assert.deepEqual(Array.from(built.recent(user, k, before)), expected);
    }
  });
});
