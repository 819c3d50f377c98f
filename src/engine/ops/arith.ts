// Arithmetic on tensors of equal shape, and scalar scaling.
import { Tensor, accumulate, record } from "../tensor.js";

function sameShape(op: string, a: Tensor, b: Tensor): void {
  if (a.size !== b.size || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw new RangeError(`${op}: shapes [${a.shape.join(", ")}] and [${b.shape.join(", ")}] differ`);
  }
}

export function add(a: Tensor, b: Tensor): Tensor {
  sameShape("add", a, b);
  const out = Tensor.empty(a.shape);
  a.rt.kernels.add!(a.ptr, b.ptr, out.ptr, a.size);
  return record(out, [a, b], (g) => {
    accumulate(a, g);
    accumulate(b, g);
  });
}

export function sub(a: Tensor, b: Tensor): Tensor {
  sameShape("sub", a, b);
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.sub!(a.ptr, b.ptr, out.ptr, a.size);
  return record(out, [a, b], (g) => {
    accumulate(a, g);
    if (b.requiresGrad) {
      const gb = Tensor.empty(b.shape);
      k.scale!(g.ptr, -1, gb.ptr, b.size);
      accumulate(b, gb);
    }
  });
}

export function mul(a: Tensor, b: Tensor): Tensor {
  sameShape("mul", a, b);
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.mul!(a.ptr, b.ptr, out.ptr, a.size);
  return record(out, [a, b], (g) => {
    if (a.requiresGrad) {
      const ga = Tensor.empty(a.shape);
      k.mul!(g.ptr, b.ptr, ga.ptr, a.size);
      accumulate(a, ga);
    }
    if (b.requiresGrad) {
      const gb = Tensor.empty(b.shape);
      k.mul!(g.ptr, a.ptr, gb.ptr, b.size);
      accumulate(b, gb);
    }
  });
}

export function scale(a: Tensor, s: number): Tensor {
  const k = a.rt.kernels;
  const out = Tensor.empty(a.shape);
  k.scale!(a.ptr, s, out.ptr, a.size);
  return record(out, [a], (g) => {
    const ga = Tensor.empty(a.shape);
    k.scale!(g.ptr, s, ga.ptr, a.size);
    accumulate(a, ga);
  });
}
