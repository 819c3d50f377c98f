// Reductions to a scalar.
import { Tensor, accumulate, record } from "../tensor.js";

export function sum(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.from([k.sum!(a.ptr, a.size)], []);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.fill!(ga.ptr, g.data[0]!, a.size);
    accumulate(a, ga);
  });
}

export function mean(a: Tensor): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.from([k.sum!(a.ptr, a.size) / a.size], []);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.fill!(ga.ptr, g.data[0]! / a.size, a.size);
    accumulate(a, ga);
  });
}
