import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { profileModel, summariseLatencies } from "../../src/eval/profile.js";
import { createModel } from "../../src/models/index.js";

describe("profileModel", () => {
  test("reports the model's size and cost, and a latency summary", () => {
    const model = createModel({ kind: "bpr-mf", dim: 8, seed: 3 }, { numUsers: 5, numItems: 50 });
    const profile = profileModel(model, { users: [0, 1, 4], reps: 5, warmup: 1 });
    assert.equal(profile.parameters, (5 + 1 + 50) * 8);
    assert.equal(profile.bytes, profile.parameters * 4);
    assert.equal(profile.flopsPerItem, 16);
    const { p50, p99, mean } = profile.latencyMs;
    for (const value of [p50, p99, mean]) assert.ok(Number.isFinite(value) && value >= 0);
    assert.ok(p50 <= p99);
  });

  test("scores each request's user with scoreAll, then selects the top K", () => {
    const asked: number[] = [];
    const stub = {
      parameterCount: () => 7,
      parameterBytes: () => 28,
      flopsPerItem: () => 3,
      scorer: () => ({
        scoreAll: ({ user }: { user: number }) => {
          asked.push(user);
          return new Float32Array(20).fill(user);
        },
        scoreCandidates: () => new Float32Array(0),
      }),
    };
    const profile = profileModel(stub, { users: [2, 9], reps: 3, warmup: 2 });
    assert.deepEqual(asked, [2, 9, 2, 9, 2]);
    assert.deepEqual([profile.parameters, profile.bytes, profile.flopsPerItem], [7, 28, 3]);
    assert.throws(() => profileModel(stub, { users: [] }), RangeError);
  });

  test("latency summary: nearest-rank percentiles and the mean", () => {
    const times = Array.from({ length: 100 }, (_, k) => 100 - k); // 1..100, unsorted
    assert.deepEqual(summariseLatencies(times), { p50: 50, p99: 99, mean: 50.5 });
    assert.deepEqual(summariseLatencies([4]), { p50: 4, p99: 4, mean: 4 });
  });
});
