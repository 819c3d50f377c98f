import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { TrainingPool, shareArray } from "../../src/engine/parallel.js";
import { runtime } from "../../src/engine/runtime.js";
import { Rng } from "../../src/engine/random.js";
import { createModel } from "../../src/models/index.js";
import { distillProgramUrl, type DistillConfig, type DistillTrainer } from "../../src/distill/program.js";

const USERS = 40;
const ITEMS = 30;

/** A learnable toy problem: user u likes items congruent to u mod 3. */
function data(n: number, seed: number) {
  const rng = new Rng(seed);
  const users = new Int32Array(n);
  const positives = new Int32Array(n);
  const negatives = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const u = rng.int(USERS);
    users[k] = u;
    positives[k] = (rng.int(ITEMS / 3) * 3 + (u % 3)) % ITEMS;
    negatives[k] = (rng.int(ITEMS / 3) * 3 + ((u + 1) % 3)) % ITEMS;
  }
  return { users: shareArray(users), positives: shareArray(positives), negatives: shareArray(negatives) };
}

const config = {
  model: { kind: "bpr-mf" as const, dim: 8, seed: 3 },
  context: { numUsers: USERS, numItems: ITEMS },
  lr: 0.05,
  optimizer: "adam" as const,
  weights: { hard: 1 },
} satisfies DistillConfig;

/**
 * NeuMF: dense MLP weights beside its tables, and no random draws within a step. SGD with momentum: Adam
 * turns a gradient element that float rounding leaves at ±1e-9 instead of 0 into a step of ±lr, so its
 * runs agree in distribution but not digit for digit whenever additions are ordered differently.
 */
const denseConfig = {
  ...config,
  model: { kind: "neumf" as const, gmfDim: 4, mlpSizes: [8, 4], seed: 3 },
  optimizer: "sgd" as const,
  momentum: 0.9,
  lr: 0.05,
} satisfies DistillConfig;

async function train(threads: number, epochs: number, trainConfig: DistillConfig = config) {
  const shared = data(2048, 5);
  const pool = await TrainingPool.start<DistillConfig, DistillTrainer>({
    programUrl: distillProgramUrl,
    config: trainConfig,
    data: shared,
    threads,
  });
  const order = Int32Array.from({ length: 2048 }, (_, i) => i);
  const losses: number[] = [];
  try {
    for (let e = 0; e < epochs; e++) {
      const r = await pool.epoch(order, 64);
      assert.equal(r.samples, 2048);
      losses.push(r.loss / r.samples);
    }
    return {
      losses,
      params: pool.local.model.parameters().map((p) => p.data.slice()),
      synchronous: pool.synchronous,
    };
  } finally {
    await pool.close();
  }
}

describe("training pool", () => {
  test("single-threaded training is deterministic", async () => {
    const a = await train(1, 2);
    const b = await train(1, 2);
    assert.deepEqual(a.losses, b.losses);
    assert.deepEqual(a.params, b.params);
  });

  test("two threads share one model and learn the toy problem", async () => {
    const { losses } = await train(2, 6);
    assert.ok(losses[5]! < losses[0]! * 0.5, `loss should fall by half: ${losses.map((l) => l.toFixed(3))}`);
  });

  test("a model with dense weights trains on two threads as on one: synchronous steps on split batches", async () => {
    const one = await train(1, 3, denseConfig);
    const two = await train(2, 3, denseConfig);
    assert.equal(two.synchronous, true);
    // Only the order of float additions differs (each thread sums its half of every batch).
    two.params.forEach((values, i) => {
      const reference = one.params[i]!;
      const scale = Math.max(...reference.map(Math.abs));
      const gap = Math.max(...values.map((v, k) => Math.abs(v - reference[k]!)));
      assert.ok(gap <= 1e-4 * scale, `parameter ${i}: two threads differ from one by ${gap} (scale ${scale})`);
    });
    two.losses.forEach((loss, e) => assert.ok(Math.abs(loss - one.losses[e]!) <= 1e-5, `epoch ${e} loss`));
  });

  test("a synchronous step that fails on a worker fails the epoch with the worker's own error", async () => {
    const shared = data(64, 5);
    shared.positives[40] = ITEMS + 7; // in the worker's half of the one batch
    const pool = await TrainingPool.start<DistillConfig, DistillTrainer>({
      programUrl: distillProgramUrl,
      config: denseConfig,
      data: shared,
      threads: 2,
    });
    try {
      await assert.rejects(
        pool.epoch(
          Int32Array.from({ length: 64 }, (_, i) => i),
          64,
        ),
        /training worker failed: RangeError: embedding: id 37 .* outside the table's 30 rows/,
      );
    } finally {
      await pool.close();
    }
  });

  test("a model of sparse tables alone trains Hogwild (shards without locks)", async () => {
    assert.equal((await train(2, 1)).synchronous, false);
  });

  test("starting a worker leaves the shared parameters as initialised, and its updates reach them", async () => {
    const shared = data(256, 9);
    const pool = await TrainingPool.start<DistillConfig, DistillTrainer>({
      programUrl: distillProgramUrl,
      config,
      data: shared,
      threads: 2,
    });
    try {
      const fresh = createModel(config.model, config.context)
        .parameters()
        .map((p) => p.data.slice());
      const before = pool.local.model.parameters().map((p) => p.data.slice());
      assert.deepEqual(before, fresh);
      // Two batches of 128: this thread trains the first, the worker the second.
      await pool.epoch(
        Int32Array.from({ length: 256 }, (_, i) => i),
        128,
      );
      const mainUsers = new Set(shared.users.subarray(0, 128));
      const workerOnly = Array.from(shared.users.subarray(128)).find((u) => !mainUsers.has(u));
      assert.ok(workerOnly !== undefined, "the fixture needs a user that only the worker trains");
      const dim = config.model.dim;
      const row = (t: Float32Array) => Array.from(t.subarray(workerOnly * dim, (workerOnly + 1) * dim));
      const after = pool.local.model.parameters()[0]!.data;
      assert.notDeepEqual(row(after), row(before[0]!));
    } finally {
      await pool.close();
    }
  });

  test("replaying allocations rebuilds over the same memory and restores its contents", () => {
    const rt = runtime();
    const { result, blocks } = rt.recordAllocations(() => [rt.alloc(64), rt.alloc(100)]);
    rt.f32.fill(7, result[0]! >> 2, (result[0]! >> 2) + 16);
    const replayed = rt.replayAllocations(blocks, () => {
      const a = rt.alloc(64);
      rt.f32.fill(-1, a >> 2, (a >> 2) + 16); // an initialiser overwriting shared values
      return [a, rt.alloc(100)];
    });
    assert.deepEqual(replayed, result);
    assert.deepEqual(Array.from(rt.f32.subarray(result[0]! >> 2, (result[0]! >> 2) + 16)), new Array(16).fill(7));
    assert.throws(() => rt.replayAllocations(blocks, () => rt.alloc(64) + rt.alloc(8)), /not deterministic/);
  });
});
