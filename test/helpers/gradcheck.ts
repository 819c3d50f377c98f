// Finite-difference gradient checking for ops and models.
import assert from "node:assert/strict";
import { Tensor, endStep, noGrad } from "../../src/engine/tensor.js";

export interface GradCheckOptions {
  /** Central-difference step; the step actually taken is what float32 can store of it. */
  eps?: number;
  /** Relative tolerance: per element |a − n| ≤ rtol·max(|a|, |n|) + atol, and per input as a whole. */
  rtol?: number;
  /** Absolute floor, as a fraction of the largest gradient element of all the inputs. */
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
}

interface InputCheck {
  /** Each sampled element on its own. */
  elements: { index: number; derivative: Derivative }[];
  /** One random unit direction over the whole input: it sees the elements the sample skips. */
  directional: Derivative;
}

const norm = (v: readonly number[]): number => Math.sqrt(v.reduce((s, x) => s + x * x, 0));

/**
 * Compare the autograd gradient of `loss(inputs)` (a scalar) with central finite differences,
 * for every input. Inputs must be persistent tensors with requiresGrad set.
 *
 * All comparisons are relative with a small absolute floor, `atol × (largest gradient element
 * of all the inputs)`, for the float32 rounding of the loss: each sampled element; each input's
 * sampled elements as one vector (‖a − n‖ ≤ rtol·max(‖a‖, ‖n‖) + floor·√count); and each
 * input's derivative along a random direction over all its elements. So an input whose analytic
 * gradient is zeroed or scaled where the numeric one is clearly non-zero fails.
 *
 * A ReLU or max whose kink lies within the step makes the central difference wrong, not the
 * gradient: a mismatch is retried with steps eps/4 and eps/16 before it counts (the loss is
 * float32, so much smaller steps drown in rounding).
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
    for (let k = 0; k < indices.length; k++)
      change += analytic[which]![indices[k]!]! * (up.values[k]! - down.values[k]!);
    return { analytic: change / (2 * step), numeric: (up.loss - down.loss) / (2 * step) };
  };

  const directions = inputs.map((t, which) => {
    const stride = Math.max(1, Math.floor(t.size / maxElements));
    const elements: number[] = [];
    for (let i = 0; i < t.size; i += stride) elements.push(i);
    const all = Int32Array.from({ length: t.size }, (_, i) => i);
    return { elements, random: { indices: all, weights: randomUnitVector(t.size, which + 1) } };
  });
  const checks = directions.map(({ elements, random }, which): InputCheck => ({
    elements: elements.map((index) => ({
      index,
      derivative: derivative(which, { indices: [index], weights: [1] }, eps),
    })),
    directional: derivative(which, random, eps),
  }));

  let scale = 0;
  for (const grad of analytic) for (const g of grad) scale = Math.max(scale, Math.abs(g));
  for (const c of checks) for (const e of c.elements) scale = Math.max(scale, Math.abs(e.derivative.numeric));
  const floor = atol * scale;
  const agrees = ({ analytic: a, numeric: n }: Derivative): boolean =>
    Math.abs(a - n) <= rtol * Math.max(Math.abs(a), Math.abs(n)) + floor;
  const refined = (which: number, direction: Direction, first: Derivative): Derivative => {
    if (agrees(first)) return first;
    for (const step of [eps / 4, eps / 16]) {
      const d = derivative(which, direction, step);
      if (agrees(d)) return d;
    }
    return first;
  };

  checks.forEach((c, which) => {
    const name = `input ${which} (${inputs[which]!.name || "unnamed"})`;
    const elements = c.elements.map(({ index, derivative: d }) => {
      const r = refined(which, { indices: [index], weights: [1] }, d);
      assert.ok(
        agrees(r),
        `gradient mismatch for ${name} element ${index}: analytic ${r.analytic}, numeric ${r.numeric}`,
      );
      return r;
    });
    const difference = norm(elements.map((d) => d.analytic - d.numeric));
    const analyticNorm = norm(elements.map((d) => d.analytic));
    const numericNorm = norm(elements.map((d) => d.numeric));
    assert.ok(
      difference <= rtol * Math.max(analyticNorm, numericNorm) + floor * Math.sqrt(elements.length),
      `gradient mismatch for ${name} as a whole: ‖analytic − numeric‖ ${difference}, ‖analytic‖ ${analyticNorm}, ‖numeric‖ ${numericNorm}`,
    );
    const d = refined(which, directions[which]!.random, c.directional);
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
