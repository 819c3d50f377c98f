import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { COLD_USER_SHARE, concat, prepareData } from "../../src/run/data.js";
import { countOccurrences } from "../../src/eval/protocol.js";

const dataset = generateEcommerce({ users: 120, items: 80, events: 3000, seed: 4 });
const prepared = prepareData(dataset);
const { train, valid, test: testRows, context } = prepared;

/** The items of `user` in a log, in log order. */
function itemsOf(log: typeof train, user: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < log.length; r++) if (log.users[r] === user) out.push(log.items[r]!);
  return out;
}

describe("prepareData", () => {
  test("the context holds train histories; test histories add the validation item last", () => {
    for (let r = 0; r < valid.length; r++) {
      const user = valid.users[r]!;
      const trainHistory = Array.from(prepared.histories.recent(user, Infinity));
      const testHistory = Array.from(prepared.testSet.histories!.recent(user, Infinity));
      assert.deepEqual(trainHistory.slice().sort(), itemsOf(train, user).sort());
      assert.deepEqual(testHistory.slice(0, -1), trainHistory);
      assert.equal(testHistory.at(-1), valid.items[r]);
    }
  });

  test("no test interaction is model input: histories hold train (+ validation) rows, all before the test time", () => {
    for (let r = 0; r < testRows.length; r++) {
      const user = testRows.users[r]!;
      assert.equal(prepared.histories.length(user), itemsOf(train, user).length);
      assert.equal(prepared.testSet.histories!.length(user), itemsOf(train, user).length + itemsOf(valid, user).length);
      const h = prepared.testSet.histories!;
      for (const t of h.timestamps.subarray(h.offsets[user]!, h.offsets[user + 1]!))
        assert.ok(t <= testRows.timestamps[r]!);
    }
  });

  test("concat keeps every row of both logs, first then second", () => {
    const both = concat(train, valid);
    assert.equal(both.length, train.length + valid.length);
    assert.deepEqual(Array.from(both.items.subarray(train.length)), Array.from(valid.items));
    assert.deepEqual(Array.from(both.users.subarray(0, train.length)), Array.from(train.users));
  });
});

describe("test segments", () => {
  test("cold users are the fewest-train-rows fifth of test users, ties kept together", () => {
    const [cold] = prepared.testSet.segments;
    const counts = countOccurrences(train.users, context.numUsers);
    const users = Array.from(testRows.users);
    const coldCounts = users.filter((u) => cold!(u, 0) === "cold users").map((u) => counts[u]!);
    const warmCounts = users.filter((u) => cold!(u, 0) === "warm users").map((u) => counts[u]!);
    assert.ok(coldCounts.length >= COLD_USER_SHARE * users.length);
    assert.ok(warmCounts.length > 0);
    assert.ok(Math.max(...coldCounts) < Math.min(...warmCounts));
  });
});
