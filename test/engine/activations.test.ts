import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ops } from "../../src/engine/index.js";
import { Tensor, endStep } from "../../src/engine/tensor.js";
import { gradCheck, leaf } from "../helpers/gradcheck.js";

const sigmoid64 = (x: number): number => 1 / (1 + Math.exp(-x));
const softplus64 = (x: number): number => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const gelu64 = (x: number): number => 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));

const activations: { name: string; op: (t: Tensor) => Tensor; f: (x: number) => number }[] = [
  { name: "relu", op: ops.relu, f: (x) => Math.max(x, 0) },
  { name: "sigmoid", op: ops.sigmoid, f: sigmoid64 },
  { name: "tanh", op: ops.tanh, f: Math.tanh },
  { name: "gelu", op: ops.gelu, f: gelu64 },
  { name: "softplus", op: ops.softplus, f: softplus64 },
  { name: "logSigmoid", op: ops.logSigmoid, f: (x) => -softplus64(-x) },
];

/** Inputs spanning tiny, moderate and extreme values; 23 elements, so the SIMD loop and the scalar tail both run. */
const probes = [
  -1000, -100, -30, -5, -2, -1, -0.7, -0.3, -0.01, -1e-4, 1e-5, 0.001, 0.2, 0.5, 0.62, 0.63, 1, 2.5, 4, 9, 30, 100,
  1000,
];

/** A leaf in [-3, 3] kept away from 0, where relu has its kink (finite differences would straddle it). */
function awayFromZero(shape: number[], seed: number): Tensor {
  const t = leaf(shape, seed, 3);
  for (let i = 0; i < t.size; i++) if (Math.abs(t.data[i]!) < 0.1) t.data[i] = 0.5;
  return t;
}

describe("activations", () => {
  for (const a of activations) {
    test(`${a.name}: forward matches float64, finite at extreme inputs`, () => {
      const x = Tensor.from(probes);
      const out = a.op(x);
      for (let i = 0; i < probes.length; i++) {
        const want = a.f(Math.fround(probes[i]!));
        const got = out.data[i]!;
        assert.ok(Number.isFinite(got), `${a.name}(${probes[i]}) = ${got}`);
        assert.ok(
          // float32 rounding: relative, plus absolute where 1 + tanh(u) cancels (gelu of large negatives)
          Math.abs(got - want) <= 2e-6 * Math.abs(want) + 1e-7,
          `${a.name}(${probes[i]}): got ${got}, want ${want}`,
        );
      }
      endStep();
    });

    test(`${a.name}: gradient matches finite differences`, () => {
      const x = awayFromZero([5, 7], 21);
      const w = leaf([5, 7], 22);
      w.requiresGrad = false;
      gradCheck(() => ops.sum(ops.mul(a.op(x), w)), [x]);
    });

    test(`${a.name}: gradient is finite at extreme inputs`, () => {
      const x = Tensor.parameter([probes.length], (d) => d.set(probes));
      a.op(x).backward(Tensor.from(probes.map(() => 1)));
      for (const g of x.grad!.data) assert.ok(Number.isFinite(g));
      endStep();
    });
  }

  test("gelu matches PyTorch's tanh approximation at known points", () => {
    // torch.nn.functional.gelu(x, approximate="tanh") for x = -1, 1, 2
    const out = ops.gelu(Tensor.from([-1, 1, 2]));
    const want = [-0.15880800783634186, 0.8411920070648193, 1.9545977115631104];
    want.forEach((w, i) => assert.ok(Math.abs(out.data[i]! - w) < 1e-6));
    endStep();
  });

  test("relu passes the gradient only where the input is positive", () => {
    const x = Tensor.parameter([6], (d) => d.set([-2, -0.5, 0, 0.5, 2, 3]));
    ops.relu(x).backward(Tensor.from([1, 2, 3, 4, 5, 6]));
    assert.deepEqual(Array.from(x.grad!.data), [0, 0, 0, 4, 5, 6]);
    endStep();
  });
});
