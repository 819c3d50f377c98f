// Pointwise non-linearities.
import { Tensor, accumulate, record } from "../tensor.js";

export function logSigmoid(x: Tensor): Tensor {
  const k = x.rt.kernels;
  const out = Tensor.empty(x.shape);
  k.logSigmoid!(x.ptr, out.ptr, x.size);
  return record(out, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    k.logSigmoidBackward!(x.ptr, g.ptr, gx.ptr, x.size);
    accumulate(x, gx);
  });
}
