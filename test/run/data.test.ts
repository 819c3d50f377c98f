import { after, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DataError } from "../../src/data/errors.js";
import { createModel } from "../../src/models/index.js";
import { evaluateModel } from "../../src/run/evaluation.js";
import { generateEcommerce } from "../../src/data/synthetic.js";
import { COLD_USER_SHARE, concat, dataStage, prepareData } from "../../src/run/data.js";
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

describe("a split given as files", () => {
  const dir = mkdtempSync(join(tmpdir(), "distillrec-split-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const write = (name: string, lines: string[]) => {
    const path = join(dir, name);
    writeFileSync(path, lines.join("\n") + "\n");
    return path;
  };
  const header = "user_id:token\titem_id:token\trating:float\ttimestamp:float";
  const rows = (pairs: [string, string][], t0: number) => pairs.map(([u, i], k) => `${u}\t${i}\t1\t${t0 + k}`);
  const trainPath = write("d.train.inter", [
    header,
    ...rows(
      [
        ["a", "x"],
        ["a", "y"],
        ["b", "x"],
        ["b", "z"],
        ["c", "y"],
      ],
      0,
    ),
  ]);
  const validPath = write("d.valid.inter", [
    header,
    ...rows(
      [
        ["a", "z"],
        ["b", "y"],
      ],
      100,
    ),
  ]);
  // "w" is an item the train part never has: it is added to the catalogue.
  const testPath = write("d.test.inter", [
    header,
    ...rows(
      [
        ["a", "w"],
        ["c", "x"],
      ],
      200,
    ),
  ]);
  const candidatesPath = write("d.candidates", ["user_id:token\titems", "a\tx\ty", "c z,w"]);
  const data = { kind: "file", path: trainPath } as const;

  test("reads the parts with one id map, and the test lists are the fixed candidates", async () => {
    const prepared = await dataStage(data, 0, undefined, {
      kind: "files",
      valid: validPath,
      test: testPath,
      candidates: candidatesPath,
    });
    const { users, items } = prepared.dataset;
    assert.deepEqual([prepared.train.length, prepared.valid.length, prepared.test.length], [5, 2, 2]);
    assert.equal(prepared.context.numItems, 4);
    assert.equal(items.external(prepared.test.items[0]!), "w");
    const candidates = prepared.testSet.candidates!;
    assert.deepEqual(
      Array.from(candidates.get(users.get("a")!)!, (i) => items.external(i)),
      ["x", "y"],
    );
    assert.deepEqual(
      Array.from(candidates.get(users.get("c")!)!, (i) => items.external(i)),
      ["z", "w"],
    );
    // User vectors (1, 0); items x, y score 1, z 0, w −1. a's "w" ranks last among w, x, y (its sampled
    // list would be w alone: a saw every other item); c's "x" ranks first among x, z, w.
    const model = createModel({ kind: "bpr-mf", dim: 2, seed: 1 }, prepared.context);
    const [userTable, itemTable] = model.parameters();
    userTable!.data.fill(0);
    for (let u = 0; u < users.size; u++) userTable!.data[2 * u] = 1;
    itemTable!.data.fill(0);
    for (const [id, score] of [
      ["x", 1],
      ["y", 1],
      ["z", 0],
      ["w", -1],
    ] as const) {
      itemTable!.data[2 * items.get(id)!] = score;
    }
    const settings = { negatives: 499, validationNegatives: 10, ks: [1, 3], fullRanking: false };
    const metrics = evaluateModel(model, prepared.testSet, settings, 0);
    assert.equal(metrics["HR@1"], 0.5);
    assert.equal(metrics["HR@3"], 1);
  });

  test("an unknown id in the candidates and a test user without a line are errors naming the file", async () => {
    const unknown = write("bad.candidates", ["a\tx\tnope", "c\tz"]);
    await assert.rejects(
      dataStage(data, 0, undefined, { kind: "files", valid: validPath, test: testPath, candidates: unknown }),
      (err: unknown) => err instanceof DataError && err.message === `${unknown}:1: unknown item "nope"`,
    );
    const partial = write("partial.candidates", ["a\tx\ty"]);
    await assert.rejects(
      dataStage(data, 0, undefined, { kind: "files", valid: validPath, test: testPath, candidates: partial }),
      /partial\.candidates: 1 test users have no candidate line \(the first: "c"\)/,
    );
  });
});
