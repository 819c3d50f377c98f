// Finite-difference gradient checking for ops and models.
import assert from "node:assert/strict";
import { Tensor, endStep, noGrad } from "../../src/engine/tensor.js";

export interface GradCheckOptions {
  /** Finite-difference step. */
  eps?: number;
  /** Allowed |analytic - numeric| / max(1, |analytic|, |numeric|). */
  tol?: number;
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

/**
 * Compare the autograd gradient of `loss(inputs)` (a scalar) with central finite differences,
 * for every input. Inputs must be persistent tensors with requiresGrad set.
 */
export function gradCheck(loss: () => Tensor, inputs: Tensor[], opts: GradCheckOptions = {}): void {
  const eps = opts.eps ?? 1e-2;
  const tol = opts.tol ?? 2e-2;
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
  inputs.forEach((t, which) => {
    const stride = Math.max(1, Math.floor(t.size / maxElements));
    for (let i = 0; i < t.size; i += stride) {
      const original = t.data[i]!;
      t.data[i] = original + eps;
      const up = evaluate();
      t.data[i] = original - eps;
      const down = evaluate();
      t.data[i] = original;
      const numeric = (up - down) / (2 * eps);
      const a = analytic[which]![i]!;
      const err = Math.abs(a - numeric) / Math.max(1, Math.abs(a), Math.abs(numeric));
      assert.ok(
        err <= tol,
        `gradient mismatch for input ${which} (${t.name || "unnamed"}) element ${i}: analytic ${a}, numeric ${numeric}`,
      );
    }
  });
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
