import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ids } from "../../src/engine/ops/embedding.js";
import { noGrad } from "../../src/engine/tensor.js";
import { TeacherVectors } from "../../src/distill/teacher-vectors.js";
import type { ModelContext } from "../../src/models/context.js";
import type { DotProductModel } from "../../src/models/dot-product.js";
import { BPRMF } from "../../src/models/bpr-mf.js";
import { SASRec } from "../../src/models/sasrec.js";

/** Six users with histories of different lengths over nine items. */
function context(): ModelContext {
  const lengths = [1, 4, 2, 6, 3, 5];
  const offsets = new Int32Array(lengths.length + 1);
  const items: number[] = [];
  lengths.forEach((length, u) => {
    for (let t = 0; t < length; t++) items.push((u * 2 + t * 5) % 9);
    offsets[u + 1] = items.length;
  });
  return { numUsers: lengths.length, numItems: 9, histories: { offsets, items: Int32Array.from(items) } };
}

function fresh(model: DotProductModel, side: "user" | "item", ids: number[]): Float32Array {
  return noGrad(() =>
    Float32Array.from(
      (side === "user"
        ? model.userVectors(new Ids(Int32Array.from(ids)))
        : model.itemVectors(new Ids(Int32Array.from(ids)))
      ).data,
    ),
  );
}

/** Counts the teacher's user and item vector calls and the ids they were asked for. */
function counting(model: DotProductModel): { calls: { user: number[]; item: number[] } } {
  const calls = { user: [] as number[], item: [] as number[] };
  const userVectors = model.userVectors.bind(model);
  const itemVectors = model.itemVectors.bind(model);
  model.userVectors = (ids, ...rest) => {
    calls.user.push(...ids.values);
    return userVectors(ids, ...rest);
  };
  model.itemVectors = (ids) => {
    calls.item.push(...ids.values);
    return itemVectors(ids);
  };
  return { calls };
}

/** Equal up to float32 rounding: a sequence model's batch (its padding) changes the order of its sums. */
function close(actual: Float32Array, expected: Float32Array): void {
  assert.equal(actual.length, expected.length);
  actual.forEach((x, k) =>
    assert.ok(Math.abs(x - expected[k]!) <= 1e-5 * (1 + Math.abs(expected[k]!)), `at ${k}: ${x} vs ${expected[k]}`),
  );
}

describe("TeacherVectors", () => {
  for (const [name, build] of [
    ["bpr-mf", (c: ModelContext) => new BPRMF({ dim: 6, seed: 3, initStd: 0.5 }, c)],
    ["sasrec", (c: ModelContext) => new SASRec({ dim: 8, blocks: 1, heads: 2, maxLength: 4, dropout: 0, seed: 2 }, c)],
  ] as const) {
    test(`${name}: kept vectors equal fresh ones, in the order asked, whatever was asked before`, () => {
      const teacher = build(context());
      teacher.eval();
      const vectors = new TeacherVectors(teacher, 6, 9);
      for (const ids of [
        [3, 0, 5],
        [5, 1, 3, 2],
        [4, 3, 0, 1, 2, 5],
      ]) {
        close(vectors.users(Int32Array.from(ids)), fresh(teacher, "user", ids));
      }
      for (const ids of [
        [8, 2],
        [2, 7, 0, 8],
      ]) {
        close(vectors.items(Int32Array.from(ids)), fresh(teacher, "item", ids));
      }
    });
  }

  test("computes each vector once, only for the ids not kept yet", () => {
    const teacher = new SASRec({ dim: 8, blocks: 1, heads: 2, maxLength: 4, dropout: 0, seed: 2 }, context());
    teacher.eval();
    const { calls } = counting(teacher);
    const vectors = new TeacherVectors(teacher, 6, 9);
    vectors.users(Int32Array.from([1, 4]));
    vectors.users(Int32Array.from([4, 2, 1, 2]));
    vectors.users(Int32Array.from([2, 1]));
    assert.deepEqual(calls.user, [1, 4, 2]);
    vectors.items(Int32Array.from([0, 8]));
    vectors.items(Int32Array.from([8, 0]));
    assert.deepEqual(calls.item, [0, 8]);
  });

  test("an id outside the teacher's users or items is an error naming it", () => {
    const vectors = new TeacherVectors(new BPRMF({ dim: 4, seed: 1 }, context()), 6, 9);
    assert.throws(() => vectors.users(Int32Array.from([2, 6])), /user 6 is outside the teacher's 6 users/);
    assert.throws(() => vectors.items(Int32Array.from([-1])), /item -1 is outside the teacher's 9 items/);
  });
});
