import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

/** log softmax(row / T) in float64, stable. */
function logSoftmax64(row: ArrayLike<number>, temperature: number): number[] {
  const z = Array.from(row, (v) => v / temperature);
  const m = Math.max(...z);
  const lse = m + Math.log(z.reduce((s, v) => s + Math.exp(v - m), 0));
  return z.map((v) => v - lse);
}

function checkRows(x: Tensor, out: Tensor, temperature: number, log: boolean): void {
  const n = x.shape.at(-1)!;
  for (let r = 0; r < x.size / n; r++) {
    const want = logSoftmax64(x.data.subarray(r * n, (r + 1) * n), temperature);
    let total = 0;
    for (let j = 0; j < n; j++) {
      const got = out.data[r * n + j]!;
      const w = log ? want[j]! : Math.exp(want[j]!);
      assert.ok(Number.isFinite(got), `row ${r} column ${j} is ${got}`);
      assert.ok(Math.abs(got - w) <= 2e-6 * Math.max(1, Math.abs(w)), `row ${r} column ${j}: got ${got}, want ${w}`);
      total += log ? Math.exp(got) : got;
    }
    assert.ok(Math.abs(total - 1) < 1e-5, `row ${r} sums to ${total}`);
  }
}

describe("softmax and logSoftmax", () => {
  for (const temperature of [1, 2.5, 0.5]) {
    for (const shape of [
      [4, 7],
      [2, 3, 9],
    ]) {
      test(`forward matches float64 and rows sum to 1 (T = ${temperature}, [${shape}])`, () => {
        const x = leaf(shape, 1, 4);
        checkRows(x, ops.softmax(x, temperature), temperature, false);
        checkRows(x, ops.logSoftmax(x, temperature), temperature, true);
        endStep();
      });

      test(`gradients match finite differences (T = ${temperature}, [${shape}])`, () => {
        const x = leaf(shape, 2, 2);
        const w = leaf(shape, 3);
        w.requiresGrad = false;
        gradCheck(() => ops.sum(ops.mul(ops.softmax(x, temperature), w)), [x]);
        gradCheck(() => ops.sum(ops.mul(ops.logSoftmax(x, temperature), w)), [x]);
      });
    }
  }

  test("logits of ±1000 give no NaN or Inf and match the stable float64 result", () => {
    const x = Tensor.from([1000, -1000, 0, 999, -1000, -999, -1000, 1000, 1000, 1000, 1000, 1000], [3, 4]);
    for (const temperature of [1, 3]) {
      checkRows(x, ops.softmax(x, temperature), temperature, false);
      checkRows(x, ops.logSoftmax(x, temperature), temperature, true);
      const xs = Tensor.parameter(x.shape, (d) => d.set(x.data));
      ops.sum(ops.logSoftmax(xs, temperature)).backward();
      for (const g of xs.grad!.data) assert.ok(Number.isFinite(g));
    }
    endStep();
  });

  test("softmax is invariant to shifting a row", () => {
    const x = leaf([3, 5], 4);
    const shifted = ops.addScalar(x, 50);
    const a = ops.softmax(x).toArray();
    const b = ops.softmax(shifted).toArray();
    a.forEach((v, i) => assert.ok(Math.abs(v - b[i]!) < 1e-6));
    endStep();
  });

  test("bad temperatures and scalars are rejected", () => {
    const x = leaf([2, 3], 5);
    for (const t of [0, -1, NaN, Infinity]) {
      assert.throws(() => ops.softmax(x, t), /softmax: temperature must be a positive finite number/);
      assert.throws(() => ops.logSoftmax(x, t), /logSoftmax: temperature must be a positive finite number/);
    }
    assert.throws(() => ops.softmax(Tensor.scalar(1)), /softmax: needs at least one dimension/);
    endStep();
  });
});
