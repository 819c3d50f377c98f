// Pointwise non-linearities.
import { Tensor, accumulate, record } from "../tensor.js";

type Activation = "logSigmoid" | "relu" | "sigmoid" | "tanh" | "gelu" | "softplus";

/** A pointwise op whose backward kernel reads either the input x or the output y, plus the incoming gradient. */
function pointwise(
  x: Tensor,
  forward: Activation,
  backward: `${Activation}Backward`,
  backwardReads: "input" | "output",
): Tensor {
  const k = x.rt.kernels;
  const out = Tensor.empty(x.shape);
  k[forward](x.ptr, out.ptr, x.size);
  return record(out, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    k[backward](backwardReads === "input" ? x.ptr : out.ptr, g.ptr, gx.ptr, x.size);
    accumulate(x, gx);
  });
}

/** log(sigmoid(x)), computed stably. */
export function logSigmoid(x: Tensor): Tensor {
  return pointwise(x, "logSigmoid", "logSigmoidBackward", "input");
}

/** max(x, 0); the gradient at exactly 0 is 0, as in PyTorch. */
export function relu(x: Tensor): Tensor {
  return pointwise(x, "relu", "reluBackward", "input");
}

/** 1 / (1 + e^-x) */
export function sigmoid(x: Tensor): Tensor {
  return pointwise(x, "sigmoid", "sigmoidBackward", "output");
}

/** tanh(x) */
export function tanh(x: Tensor): Tensor {
  return pointwise(x, "tanh", "tanhBackward", "output");
}

/** GELU with the tanh approximation (PyTorch's approximate="tanh"). */
export function gelu(x: Tensor): Tensor {
  return pointwise(x, "gelu", "geluBackward", "input");
}

/** log(1 + e^x), computed stably. */
export function softplus(x: Tensor): Tensor {
  return pointwise(x, "softplus", "softplusBackward", "input");
}
