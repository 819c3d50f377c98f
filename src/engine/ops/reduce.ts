// Reductions: to a scalar, over the last dimension, and over the first dimension.
import { Tensor, accumulate, record } from "../tensor.js";

/** Sum of every element → scalar []. */
export function sum(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.from([k.sum(a.ptr, a.size)], []);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.fill(ga.ptr, g.data[0]!, a.size);
    accumulate(a, ga);
  });
}

/** Mean of every element → scalar []. */
export function mean(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.from([k.sum(a.ptr, a.size) / a.size], []);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.fill(ga.ptr, g.data[0]! / a.size, a.size);
    accumulate(a, ga);
  });
}

function lastDim(op: string, x: Tensor): number {
  if (x.shape.length < 1) throw new RangeError(`${op}: needs at least one dimension, got a scalar`);
  return x.shape.at(-1)!;
}

/** Sum or mean over the last dimension: [..., n] → [...]. */
function reduceLastDim(op: string, x: Tensor, mean: boolean): Tensor {
  const n = lastDim(op, x);
  const rows = n === 0 ? 0 : x.size / n;
  const k = x.rt.kernels;
  const out = Tensor.empty(x.shape.slice(0, -1));
  k.sumLastDim(x.ptr, rows, n, out.ptr);
  if (mean) k.scale(out.ptr, 1 / n, out.ptr, rows);
  return record(out, [x], (g) => {
    // Every element of a row receives the row's gradient (divided by n for the mean).
    const gx = Tensor.empty(x.shape);
    k.spreadLastDim(g.ptr, rows, n, mean ? 1 / n : 1, gx.ptr);
    accumulate(x, gx);
  });
}

/** Sum over the last dimension: [..., n] → [...] (e.g. [rows, n] → [rows]). */
export function sumLastDim(x: Tensor): Tensor {
  return reduceLastDim("sumLastDim", x, false);
}

/** Mean over the last dimension: [..., n] → [...]. */
export function meanLastDim(x: Tensor): Tensor {
  return reduceLastDim("meanLastDim", x, true);
}

/** Sum or mean over the first dimension: [rows, ...rest] → rest. */
function reduceRows(op: string, x: Tensor, mean: boolean): Tensor {
  if (x.shape.length < 1) throw new RangeError(`${op}: needs at least one dimension, got a scalar`);
  const rows = x.shape[0]!;
  const rest = x.shape.slice(1);
  const n = rows === 0 ? 0 : x.size / rows;
  const k = x.rt.kernels;
  const out = Tensor.empty(rest);
  k.sumRows(x.ptr, rows, n, out.ptr);
  if (mean) k.scale(out.ptr, 1 / rows, out.ptr, n);
  return record(out, [x], (g) => {
    // Every row receives the whole gradient: a copy with a source stride of 0.
    const gx = Tensor.empty(x.shape);
    k.copyBlock(g.ptr, 0, gx.ptr, n, rows, n);
    if (mean) k.scale(gx.ptr, 1 / rows, gx.ptr, x.size);
    accumulate(x, gx);
  });
}

/** Sum over the first dimension: [rows, ...rest] → rest (e.g. [rows, n] → [n]). */
export function sumRows(x: Tensor): Tensor {
  return reduceRows("sumRows", x, false);
}

/** Mean over the first dimension: [rows, ...rest] → rest. */
export function meanRows(x: Tensor): Tensor {
  return reduceRows("meanRows", x, true);
}
