import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Rng, kaimingUniform, normalInit, uniformInit, xavierUniform } from "../../src/engine/random.js";

function draws(rng: Rng, n: number): number[] {
  return Array.from({ length: n }, () => rng.next());
}

function meanAndStd(values: ArrayLike<number>): { mean: number; std: number } {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i]!;
  const mean = s / values.length;
  let v = 0;
  for (let i = 0; i < values.length; i++) v += (values[i]! - mean) ** 2;
  return { mean, std: Math.sqrt(v / values.length) };
}

describe("Rng", () => {
  test("the same seed gives the same stream, another seed a different one", () => {
    assert.deepEqual(draws(new Rng(42), 100), draws(new Rng(42), 100));
    assert.notDeepEqual(draws(new Rng(42), 100), draws(new Rng(43), 100));
  });

  test("seed 0 works (no all-zero state)", () => {
    const values = draws(new Rng(0), 100);
    assert.ok(new Set(values).size > 95);
  });

  test("next() is uniform in [0, 1)", () => {
    const values = draws(new Rng(1), 10_000);
    assert.ok(values.every((v) => v >= 0 && v < 1));
    const { mean, std } = meanAndStd(values);
    assert.ok(Math.abs(mean - 0.5) < 0.01, `mean ${mean}`);
    assert.ok(Math.abs(std - Math.sqrt(1 / 12)) < 0.01, `std ${std}`);
  });

  test("normal() has mean 0 and standard deviation 1", () => {
    const rng = new Rng(2);
    const { mean, std } = meanAndStd(Array.from({ length: 10_000 }, () => rng.normal()));
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(std - 1) < 0.03, `std ${std}`);
  });

  test("int(n) covers [0, n) evenly and rejects bad n", () => {
    const rng = new Rng(3);
    const counts = new Array<number>(7).fill(0);
    for (let i = 0; i < 7000; i++) counts[rng.int(7)]!++;
    for (const c of counts) assert.ok(c > 850 && c < 1150, `counts ${counts}`);
    assert.equal(new Rng(3).int(1), 0);
    assert.throws(() => rng.int(0), RangeError);
    assert.throws(() => rng.int(2.5), RangeError);
  });

  test("fork() gives a reproducible stream independent of the parent's", () => {
    const parent = new Rng(5);
    const child = parent.fork();
    const again = new Rng(5).fork();
    const childDraws = draws(child, 1000);
    assert.deepEqual(childDraws, draws(again, 1000));
    const parentDraws = draws(parent, 1000);
    // Independent streams: no shared values and near-zero correlation.
    assert.equal(childDraws.filter((v) => parentDraws.includes(v)).length, 0);
    const a = meanAndStd(childDraws);
    const b = meanAndStd(parentDraws);
    let cov = 0;
    for (let i = 0; i < 1000; i++) cov += (childDraws[i]! - a.mean) * (parentDraws[i]! - b.mean);
    assert.ok(Math.abs(cov / 1000 / (a.std * b.std)) < 0.1);
    // Two forks of one parent differ from each other.
    const p = new Rng(9);
    assert.notDeepEqual(draws(p.fork(), 10), draws(p.fork(), 10));
  });

  test("shuffle() permutes plain and typed arrays reproducibly", () => {
    const plain = Array.from({ length: 50 }, (_, i) => i);
    new Rng(7).shuffle(plain);
    assert.deepEqual(
      [...plain].sort((x, y) => x - y),
      Array.from({ length: 50 }, (_, i) => i),
    );
    assert.notDeepEqual(
      plain,
      Array.from({ length: 50 }, (_, i) => i),
    );
    const typed = Int32Array.from({ length: 50 }, (_, i) => i);
    assert.equal(new Rng(7).shuffle(typed), typed);
    assert.deepEqual(Array.from(typed), plain);
  });
});

describe("initialisers", () => {
  test("normalInit has the requested standard deviation", () => {
    const data = new Float32Array(10_000);
    normalInit(new Rng(1), 0.1)(data);
    const { mean, std } = meanAndStd(data);
    assert.ok(Math.abs(mean) < 0.005 && Math.abs(std - 0.1) < 0.005, `mean ${mean} std ${std}`);
  });

  test("uniform initialisers stay within their bounds and fill them", () => {
    const cases: [(d: Float32Array) => void, number][] = [
      [uniformInit(new Rng(1), 0.3), 0.3],
      [xavierUniform(new Rng(2), 20, 40), Math.sqrt(6 / 60)],
      [kaimingUniform(new Rng(3), 24), Math.sqrt(6 / 24)],
      [kaimingUniform(new Rng(4), 25, Math.sqrt(5)), 1 / 5],
    ];
    for (const [init, bound] of cases) {
      const data = new Float32Array(5000);
      init(data);
      const max = data.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      assert.ok(max <= bound + 1e-6 && max > 0.98 * bound, `max |x| ${max} for bound ${bound}`);
      const { std } = meanAndStd(data);
      assert.ok(Math.abs(std - bound / Math.sqrt(3)) < 0.03 * bound, `std ${std} for bound ${bound}`);
    }
  });
});
