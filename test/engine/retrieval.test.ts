import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { quantizeInt8 } from "../../src/engine/codecs/int8.js";
import { Rng } from "../../src/engine/random.js";
import { ExactIndex, type Ranked } from "../../src/engine/retrieval.js";
import { grid } from "../helpers/vectors.js";

function gaussian(rows: number, dim: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: rows * dim }, () => rng.normal());
}

/** Rank every item by `score` (best first, lower item first among equals), none of the excluded. */
function reference(n: number, k: number, score: (item: number) => number, exclude?: Uint8Array): Ranked {
  const scores = Float32Array.from({ length: n }, (_, i) => score(i));
  const order = Array.from({ length: n }, (_, i) => i)
    .filter((i) => !exclude?.[i])
    .sort((a, b) => scores[b]! - scores[a]! || a - b)
    .slice(0, k);
  return { items: Int32Array.from(order), scores: Float32Array.from(order, (i) => scores[i]!) };
}

function f32Score(vectors: Float32Array, dim: number, query: Float32Array): (item: number) => number {
  return (item) => {
    let s = 0;
    for (let j = 0; j < dim; j++) s += vectors[item * dim + j]! * query[j]!;
    return s;
  };
}

/** The int8 kernel's score computed exactly: the integer dot product, times both scales in float32. */
function int8Score(vectors: Float32Array, dim: number, query: Float32Array): (item: number) => number {
  const m = quantizeInt8(vectors, vectors.length / dim, dim);
  const x = quantizeInt8(query, 1, dim);
  return (item) => {
    let dot = 0;
    for (let j = 0; j < dim; j++) dot += m.data[item * dim + j]! * x.data[j]!;
    return Math.fround(Math.fround(dot) * Math.fround(m.scales[item]! * x.scales[0]!));
  };
}

describe("ExactIndex", () => {
  test("f32 search equals a brute-force ranking, indices and scores, across dims with and without a tail", () => {
    for (const [n, dim] of [
      [1003, 32],
      [517, 13],
      [3, 5],
    ] as const) {
      const vectors = grid(n, dim, n);
      const index = new ExactIndex(vectors, dim);
      for (let q = 0; q < 5; q++) {
        const query = grid(1, dim, 100 + q);
        const expected = reference(n, 10, f32Score(vectors, dim, query));
        assert.deepEqual(index.search(query, 10), expected, `n ${n}, dim ${dim}, query ${q}`);
      }
      index.dispose();
    }
  });

  test("f32 scores of arbitrary floats agree with float64 ones to float32 rounding", () => {
    const dim = 32;
    const vectors = gaussian(2000, dim, 1);
    const index = new ExactIndex(vectors, dim);
    const query = gaussian(1, dim, 2);
    const expected = reference(2000, 20, f32Score(vectors, dim, query));
    const found = index.search(query, 20);
    assert.deepEqual(found.items, expected.items);
    found.scores.forEach((s, i) =>
      assert.ok(Math.abs(s - expected.scores[i]!) < 1e-5, `${s} vs ${expected.scores[i]}`),
    );
    index.dispose();
  });

  test("int8 search equals the int8 reference scoring and stays within the quantisation bound", () => {
    for (const [n, dim] of [
      [1001, 32],
      [300, 21],
    ] as const) {
      const vectors = gaussian(n, dim, 3);
      const index = new ExactIndex(vectors, dim, { precision: "int8" });
      assert.equal(index.precision, "int8");
      const query = gaussian(1, dim, 4);
      const found = index.search(query, 10);
      assert.deepEqual(found, reference(n, 10, int8Score(vectors, dim, query)));
      // |v − v̂| ≤ s_v / 2 for every value, and the same for the query.
      const m = quantizeInt8(vectors, n, dim);
      const x = quantizeInt8(query, 1, dim);
      const exact = f32Score(vectors, dim, query);
      found.items.forEach((item, i) => {
        let bound = 0;
        for (let j = 0; j < dim; j++) {
          bound += (Math.abs(vectors[item * dim + j]!) * x.scales[0]! + Math.abs(query[j]!) * m.scales[item]!) / 2;
          bound += (m.scales[item]! * x.scales[0]!) / 4;
        }
        assert.ok(Math.abs(found.scores[i]! - exact(item)) <= bound * (1 + 1e-5), `item ${item}`);
      });
      index.dispose();
    }
  });

  test("equal scores rank the lower index first; k past the size returns every item; k = 0 none", () => {
    const dim = 8;
    const vectors = new Float32Array(50 * dim).fill(0.5);
    for (const precision of ["f32", "int8"] as const) {
      const index = new ExactIndex(vectors, dim, { precision });
      const query = new Float32Array(dim).fill(1);
      assert.deepEqual(Array.from(index.search(query, 7).items), [0, 1, 2, 3, 4, 5, 6]);
      assert.equal(index.search(query, 80).items.length, 50);
      assert.deepEqual(
        Array.from(index.search(query, 80).items),
        Array.from({ length: 50 }, (_, i) => i),
      );
      assert.equal(index.search(query, 0).items.length, 0);
      index.dispose();
    }
    const empty = new ExactIndex(new Float32Array(0), dim);
    assert.equal(empty.search(new Float32Array(dim), 5).items.length, 0);
    empty.dispose();
  });

  test("excluded items never come back, and the rest rank as without them", () => {
    const dim = 16;
    const n = 777;
    const vectors = grid(n, dim, 5);
    const rng = new Rng(6);
    const exclude = Uint8Array.from({ length: n }, () => (rng.next() < 0.7 ? 1 : 0));
    for (const precision of ["f32", "int8"] as const) {
      const index = new ExactIndex(vectors, dim, { precision });
      const query = grid(1, dim, 7);
      const score = precision === "f32" ? f32Score(vectors, dim, query) : int8Score(vectors, dim, query);
      assert.deepEqual(index.search(query, 25, { exclude }), reference(n, 25, score, exclude));
      assert.equal(index.search(query, 5, { exclude: new Uint8Array(n).fill(1) }).items.length, 0);
      assert.throws(() => index.search(query, 5, { exclude: new Uint8Array(n - 1) }), RangeError);
      index.dispose();
    }
  });

  test("upserts change and append rows, visible to the next search, growing past the first capacity", () => {
    const dim = 12;
    const vectors = grid(20, dim, 8);
    for (const precision of ["f32", "int8"] as const) {
      const index = new ExactIndex(vectors, dim, { precision });
      const all = Array.from(vectors);
      const query = grid(1, dim, 9);
      const top = new Float32Array(dim).fill(2);
      // Row 3 becomes the best match of an all-positive query.
      index.upsert(3, top);
      all.splice(3 * dim, dim, ...top);
      assert.equal(index.search(new Float32Array(dim).fill(1), 1).items[0], 3);
      for (let r = 20; r < 300; r++) {
        const v = grid(1, dim, 1000 + r);
        index.upsert(r, v);
        all.push(...v);
      }
      assert.equal(index.size, 300);
      const table = Float32Array.from(all);
      const score = precision === "f32" ? f32Score(table, dim, query) : int8Score(table, dim, query);
      assert.deepEqual(index.search(query, 30), reference(300, 30, score));
      assert.throws(() => index.upsert(302, top), RangeError);
      assert.throws(() => index.upsert(0, new Float32Array(dim - 1)), RangeError);
      index.dispose();
    }
  });

  test("a disposed index refuses to search or change; disposing twice is harmless", () => {
    const index = new ExactIndex(grid(10, 4, 1), 4);
    index.dispose();
    index.dispose();
    assert.throws(() => index.search(new Float32Array(4), 3), /after dispose/);
    assert.throws(() => index.upsert(0, new Float32Array(4)), /after dispose/);
  });

  test("bad shapes and queries are refused", () => {
    assert.throws(() => new ExactIndex(new Float32Array(10), 3), RangeError);
    assert.throws(() => new ExactIndex(Float32Array.of(1, NaN), 2), RangeError);
    const index = new ExactIndex(grid(10, 4, 1), 4);
    assert.throws(() => index.search(new Float32Array(3), 3), RangeError);
    assert.throws(() => index.search(Float32Array.of(0, 0, Infinity, 0), 3), RangeError);
    assert.throws(() => index.search(new Float32Array(4), -1), RangeError);
    index.dispose();
  });
});
