import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Rng } from "../../src/engine/random.js";
import { ExactIndex, IvfIndex, measureRecall } from "../../src/engine/retrieval.js";
import { clustered, grid } from "../helpers/vectors.js";

describe("IvfIndex", () => {
  const dim = 16;
  const n = 4000;
  const vectors = clustered(n, dim, 40, 0.35, 10);
  // Queries near random items, as users near the items they like.
  const rng = new Rng(11);
  const queries = new Float32Array(50 * dim);
  for (let i = 0; i < 50; i++) {
    const item = rng.int(n);
    for (let j = 0; j < dim; j++) queries[i * dim + j] = vectors[item * dim + j]! + 0.35 * rng.normal();
  }

  test("recall@10 on a clustered set reaches 0.9 with enough probes; all lists make it exact", () => {
    for (const precision of ["f32", "int8"] as const) {
      const exact = new ExactIndex(vectors, dim, { precision });
      const ivf = new IvfIndex(vectors, dim, { precision, lists: 64, seed: 1 });
      assert.equal(ivf.listCount, 64);
      const recall = measureRecall({ dim, search: (q, k) => ivf.search(q, k, { probes: 8 }) }, exact, queries, 10);
      assert.ok(recall >= 0.9, `${precision} recall@10 with 8 of 64 lists: ${recall}`);
      for (let i = 0; i < 10; i++) {
        const q = queries.subarray(i * dim, (i + 1) * dim);
        assert.deepEqual(ivf.search(q, 10, { probes: 64 }), exact.search(q, 10));
      }
      assert.equal(measureRecall(exact, exact, queries, 10), 1);
      exact.dispose();
      ivf.dispose();
    }
  });

  test("the same seed builds the same index", () => {
    const a = new IvfIndex(vectors, dim, { lists: 30, seed: 4 });
    const b = new IvfIndex(vectors, dim, { lists: 30, seed: 4 });
    const q = queries.subarray(0, dim);
    assert.deepEqual(a.search(q, 10, { probes: 3 }), b.search(q, 10, { probes: 3 }));
    a.dispose();
    b.dispose();
  });

  test("exclusions and upserts (moved and appended rows) match the exact index when every list is probed", () => {
    for (const precision of ["f32", "int8"] as const) {
      const exact = new ExactIndex(vectors, dim, { precision });
      const ivf = new IvfIndex(vectors, dim, { precision, lists: 20, seed: 2 });
      const rng = new Rng(3);
      for (let step = 0; step < 200; step++) {
        // Half the upserts change an existing row (likely moving it to another list), half append.
        const index = step % 2 === 0 ? rng.int(ivf.size) : ivf.size;
        const v = clustered(1, dim, 40, 0.35, 500 + step);
        exact.upsert(index, v);
        ivf.upsert(index, v);
      }
      assert.equal(ivf.size, n + 100);
      const exclude = Uint8Array.from({ length: ivf.size }, () => (rng.next() < 0.3 ? 1 : 0));
      for (let i = 0; i < 10; i++) {
        const q = queries.subarray(i * dim, (i + 1) * dim);
        assert.deepEqual(ivf.search(q, 15, { probes: 20, exclude }), exact.search(q, 15, { exclude }));
      }
      exact.dispose();
      ivf.dispose();
    }
  });

  test("an appended row far from everything is found by its nearest list", () => {
    const ivf = new IvfIndex(vectors, dim, { lists: 25, seed: 5 });
    const far = new Float32Array(dim).fill(10);
    ivf.upsert(n, far);
    assert.equal(ivf.search(far, 1, { probes: 1 }).items[0], n);
    ivf.dispose();
  });

  test("small sets: fewer rows than lists, and an empty index that grows", () => {
    const few = new IvfIndex(grid(5, 4, 1), 4, { lists: 8 });
    assert.equal(few.search(grid(1, 4, 2), 10).items.length, 5);
    few.dispose();
    const empty = new IvfIndex(new Float32Array(0), 4);
    assert.equal(empty.search(grid(1, 4, 2), 3).items.length, 0);
    empty.upsert(0, grid(1, 4, 3));
    assert.deepEqual(Array.from(empty.search(grid(1, 4, 2), 3).items), [0]);
    empty.dispose();
  });

  test("a disposed index refuses to search or change", () => {
    const ivf = new IvfIndex(vectors.subarray(0, 100 * dim), dim, { lists: 4 });
    ivf.dispose();
    assert.throws(() => ivf.search(new Float32Array(dim), 3), /after dispose/);
    assert.throws(() => ivf.upsert(0, new Float32Array(dim)), /after dispose/);
    assert.throws(() => new IvfIndex(vectors, dim, { lists: 0 }), RangeError);
  });
});
