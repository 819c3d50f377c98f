// Softmax and log-softmax over the last dimension, with a temperature.
import { Tensor, accumulate, record } from "../tensor.js";

/** The [rows, n] view of x for a last-dimension op; validates the temperature. */
function rowsOf(op: string, x: Tensor, temperature: number): { rows: number; n: number } {
  if (x.shape.length < 1) throw new RangeError(`${op}: needs at least one dimension, got a scalar`);
  if (!(temperature > 0) || !Number.isFinite(temperature)) {
    throw new RangeError(`${op}: temperature must be a positive finite number, got ${temperature}`);
  }
  const n = x.shape.at(-1)!;
  return { rows: n === 0 ? 0 : x.size / n, n };
}

/** softmax(x / temperature) over the last dimension; stable (the row max is subtracted first). */
export function softmax(x: Tensor, temperature = 1): Tensor {
  const { rows, n } = rowsOf("softmax", x, temperature);
  const k = x.rt.kernels;
  const out = Tensor.empty(x.shape);
  k.softmaxRows(x.ptr, out.ptr, rows, n, 1 / temperature);
  return record(out, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    k.softmaxBackward(out.ptr, g.ptr, gx.ptr, rows, n, 1 / temperature);
    accumulate(x, gx);
  });
}

/** log softmax(x / temperature) over the last dimension; finite even for logits of ±1000. */
export function logSoftmax(x: Tensor, temperature = 1): Tensor {
  const { rows, n } = rowsOf("logSoftmax", x, temperature);
  const k = x.rt.kernels;
  const out = Tensor.empty(x.shape);
  k.logSoftmaxRows(x.ptr, out.ptr, rows, n, 1 / temperature);
  return record(out, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    k.logSoftmaxBackward(out.ptr, g.ptr, gx.ptr, rows, n, 1 / temperature);
    accumulate(x, gx);
  });
}
