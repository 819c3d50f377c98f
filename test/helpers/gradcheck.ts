// Finite-difference gradient checking for ops and models.
import assert from "node:assert/strict";
import { Tensor, endStep, noGrad } from "../../src/engine/tensor.js";

export interface GradCheckOptions {
  /** Central-difference step; the step actually taken is what float32 can store of it. */
  eps?: number;
  /** Relative tolerance: per element |a − n| ≤ rtol·max(|a|, |n|) + atol, and per input as a whole. */
  rtol?: number;
  /** Absolute floor, as a fraction of the input's largest gradient element (float32 rounding comes on top). */
  atol?: number;
  /** Check at most this many elements per input (spread evenly), to keep big inputs fast. */
  maxElements?: number;
}

/** The analytic gradient of a leaf, densified (sparse row gradients are summed into a dense copy). */
export function denseGrad(t: Tensor): Float64Array {
  const out = new Float64Array(t.size);
  if (t.grad) out.set(t.grad.data);
  if (t.sparseGrad) {
    const dim = t.shape[1]!;
    const i32 = t.rt.i32;
    const f32 = t.rt.f32;
    for (const part of t.sparseGrad) {
      for (let r = 0; r < part.count; r++) {
        const row = i32[(part.indices >> 2) + r]!;
        for (let j = 0; j < dim; j++) out[row * dim + j]! += f32[(part.rows >> 2) + r * dim + j]!;
      }
    }
  }
  return out;
}

/** A displacement of some elements of one input: element `indices[k]` moves by `weights[k]` per unit step. */
interface Direction {
  indices: ArrayLike<number>;
  weights: ArrayLike<number>;
}

/** The loss's derivative along a direction, from autograd and from central differences. */
interface Derivative {
  analytic: number;
  numeric: number;
  /** Bound on the numeric value's error from the float32 rounding of the two losses. */
  rounding: number;
}

/** Rounding error of a float32 loss, in units of its last place: a few roundings survive the sums. */
const LOSS_ROUNDING_ULPS = 8;

const norm = (v: readonly number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/**
 * Compare the autograd gradient of `loss(inputs)` (a scalar) with central finite differences,
 * for every input. Inputs must be persistent tensors with requiresGrad set.
 *
 * Each input is checked on its own scale, so one with a small gradient is not waved through by
 * another's large one: each sampled element (|a − n| ≤ rtol·max(|a|, |n|) + slack); the sampled
 * elements as one vector (‖a − n‖ ≤ rtol·max(‖a‖, ‖n‖) + ‖slack‖); and the derivative along a
 * random direction over all its elements, which sees what the sample skips. The slack is
 * `atol × (the input's largest gradient element)` plus the float32 rounding of the loss divided by
 * the step. So an input whose analytic gradient is zeroed or scaled fails wherever the numeric
 * one is clearly above rounding.
 *
 * A ReLU or max whose kink lies within the step makes the central difference wrong, not the
 * gradient: a mismatch is retried with steps eps/4 and eps/16 before it counts.
 */
export function gradCheck(loss: () => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): void {
  const eps = opts.eps ?? 1e-2;
  const rtol = opts.rtol ?? 1e-2;
  const atol = opts.atol ?? 1e-3;
  const maxElements = opts.maxElements ?? 64;
  for (const t of inputs) {
    t.grad = null;
    t.sparseGrad = null;
  }
  loss().backward();
  const analytic = inputs.map(denseGrad);
  endStep();
  const evaluate = (): number => {
    const v = noGrad(() => loss().item());
    endStep();
    return v;
  };
  // Differences use the displacement float32 actually stores, in float64.
  const derivative = (which: number, direction: Direction, step: number): Derivative => {
    const t = inputs[which]!;
    const { indices, weights } = direction;
    const original = Float64Array.from(indices, (i) => t.data[i]!);
    const moved = (sign: number): { loss: number; values: Float64Array } => {
      for (let k = 0; k < indices.length; k++) t.data[indices[k]!] = original[k]! + sign * step * weights[k]!;
      const values = Float64Array.from(indices, (i) => t.data[i]!);
      return { loss: evaluate(), values };
    };
    const up = moved(1);
    const down = moved(-1);
    for (let k = 0; k < indices.length; k++) t.data[indices[k]!] = original[k]!;
    let change = 0;
    for (let k = 0; k < indices.length; k++) {
      change += analytic[which]![indices[k]!]! * (up.values[k]! - down.values[k]!);
    }
    const ulp = 2 ** -23 * Math.max(Math.abs(up.loss), Math.abs(down.loss));
    return {
      analytic: change / (2 * step),
      numeric: (up.loss - down.loss) / (2 * step),
      rounding: (LOSS_ROUNDING_ULPS * ulp) / (2 * step),
    };
  };

  inputs.forEach((t, which) => {
    const name = `input ${which} (${t.name || "unnamed"})`;
    const stride = Math.max(1, Math.floor(t.size / maxElements));
    const elements: Direction[] = [];
    for (let i = 0; i < t.size; i += stride) elements.push({ indices: [i], weights: [1] });
    const firstTries = elements.map((e) => derivative(which, e, eps));
    let scale = 0;
    for (const g of analytic[which]!) scale = Math.max(scale, Math.abs(g));
    for (const d of firstTries) scale = Math.max(scale, Math.abs(d.numeric));
    const slack = (d: Derivative): number => atol * scale + d.rounding;
    const agrees = (d: Derivative): boolean =>
      Math.abs(d.analytic - d.numeric) <= rtol * Math.max(Math.abs(d.analytic), Math.abs(d.numeric)) + slack(d);
    const refined = (direction: Direction, first: Derivative): Derivative => {
      if (agrees(first)) return first;
      for (const step of [eps / 4, eps / 16]) {
        const d = derivative(which, direction, step);
        if (agrees(d)) return d;
      }
      return first;
    };

    const checked = elements.map((e, k) => {
      const d = refined(e, firstTries[k]!);
      assert.ok(
        agrees(d),
        `gradient mismatch for ${name} element ${e.indices[0]}: analytic ${d.analytic}, numeric ${d.numeric}`,
      );
      return d;
    });
    const difference = norm(checked.map((d) => d.analytic - d.numeric));
    const analyticNorm = norm(checked.map((d) => d.analytic));
    const numericNorm = norm(checked.map((d) => d.numeric));
    assert.ok(
      difference <= rtol * Math.max(analyticNorm, numericNorm) + norm(checked.map(slack)),
      `gradient mismatch for ${name} as a whole: ‖analytic − numeric‖ ${difference}, ‖analytic‖ ${analyticNorm}, ‖numeric‖ ${numericNorm}`,
    );
    const random = {
      indices: Int32Array.from({ length: t.size }, (_, i) => i),
      weights: randomUnitVector(t.size, which + 1),
    };
    const d = refined(random, derivative(which, random, eps));
    assert.ok(
      agrees(d),
      `gradient mismatch for ${name} along a random direction: analytic ${d.analytic}, numeric ${d.numeric}`,
    );
  });
}

/** A deterministic unit vector with random signs, so every element moves by the same amount. */
function randomUnitVector(size: number, seed: number): Float64Array {
  let s = seed;
  const out = new Float64Array(size);
  for (let i = 0; i < size; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s & 1 ? 1 : -1) / Math.sqrt(size);
  }
  return out;
}

/** A persistent leaf tensor with deterministic pseudo-random values in [-scale, scale]. */
export function leaf(shape: number[], seed = 1, scale = 1): Tensor {
  let s = seed >>> 0 || 1;
  const t = Tensor.parameter(shape, (d) => {
    for (let i = 0; i < d.length; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      d[i] = ((s >>> 0) / 2 ** 32 - 0.5) * 2 * scale;
    }
  });
  return t;
}
