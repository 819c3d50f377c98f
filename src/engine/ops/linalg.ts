// Dense linear algebra: matrix multiply and fully connected layers, on the packed SIMD matmul kernels.
import type { Kernels } from "../runtime.js";
import { Tensor, accumulate, record } from "../tensor.js";

type Layout = "matmulNN" | "matmulNT" | "matmulTN";

function shapeText(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

/** C[m,n] = op(A)·op(B) into a fresh scratch tensor; the kernel's packing buffer comes from the arena too. */
function multiply(k: Kernels, layout: Layout, a: Tensor, b: Tensor, m: number, inner: number, n: number): Tensor {
  const out = Tensor.empty([m, n]);
  const scratch = a.rt.scratch.alloc(k.matmulScratchBytes(inner, n));
  k[layout](a.ptr, b.ptr, out.ptr, m, inner, n, 0, scratch);
  return out;
}

/** Matrix product [M,K]·[K,N] → [M,N]. */
export function matmul(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 2 || b.shape.length !== 2 || a.shape[1] !== b.shape[0]) {
    throw new RangeError(`matmul: shapes ${shapeText(a)} and ${shapeText(b)} do not form [M, K]·[K, N]`);
  }
  const [m, inner] = a.shape as [number, number];
  const n = b.shape[1]!;
  const k = a.rt.kernels;
  const out = multiply(k, "matmulNN", a, b, m, inner, n);
  return record(out, [a, b], (g) => {
    if (a.requiresGrad) accumulate(a, multiply(k, "matmulNT", g, b, m, n, inner));
    if (b.requiresGrad) accumulate(b, multiply(k, "matmulTN", a, g, inner, m, n));
  });
}

/** Batched matrix product [B,M,K]·[B,K,N] → [B,M,N] (torch.bmm): one packed matmul per batch entry. */
export function bmm(a: Tensor, b: Tensor): Tensor {
  if (a.shape.length !== 3 || b.shape.length !== 3 || a.shape[0] !== b.shape[0] || a.shape[2] !== b.shape[1]) {
    throw new RangeError(`bmm: shapes ${shapeText(a)} and ${shapeText(b)} do not form [B, M, K]·[B, K, N]`);
  }
  const [batch, m, inner] = a.shape as [number, number, number];
  const n = b.shape[2]!;
  const k = a.rt.kernels;
  /** out_i = op(x_i)·op(y_i) for every i, x_i and y_i `xStride` and `yStride` floats apart. */
  const batched = (layout: Layout, x: Tensor, y: Tensor, rows: number, depth: number, cols: number): Tensor => {
    const out = Tensor.empty([batch, rows, cols]);
    const scratch = a.rt.scratch.alloc(k.matmulScratchBytes(depth, cols));
    const xStride = (x.size / batch) * 4;
    const yStride = (y.size / batch) * 4;
    for (let i = 0; i < batch; i++) {
      k[layout](x.ptr + i * xStride, y.ptr + i * yStride, out.ptr + i * rows * cols * 4, rows, depth, cols, 0, scratch);
    }
    return out;
  };
  const out = batched("matmulNN", a, b, m, inner, n);
  return record(out, [a, b], (g) => {
    if (a.requiresGrad) accumulate(a, batched("matmulNT", g, b, m, n, inner));
    if (b.requiresGrad) accumulate(b, batched("matmulTN", a, g, inner, m, n));
  });
}

/** Fully connected layer, PyTorch convention: x [B,in], weight [out,in], bias [out] → x·weightᵀ + bias, [B,out]. */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor): Tensor {
  if (x.shape.length !== 2 || weight.shape.length !== 2 || x.shape[1] !== weight.shape[1]) {
    throw new RangeError(
      `linear: input ${shapeText(x)} and weight ${shapeText(weight)} do not form [B, in] and [out, in]`,
    );
  }
  const [batch, inFeatures] = x.shape as [number, number];
  const outFeatures = weight.shape[0]!;
  if (bias && (bias.shape.length !== 1 || bias.shape[0] !== outFeatures)) {
    throw new RangeError(`linear: bias ${shapeText(bias)} does not match weight ${shapeText(weight)} (want [out])`);
  }
  const k = x.rt.kernels;
  const out = multiply(k, "matmulNT", x, weight, batch, inFeatures, outFeatures);
  if (bias) k.addRowBias(out.ptr, bias.ptr, batch, outFeatures);
  const parents = bias ? [x, weight, bias] : [x, weight];
  return record(out, parents, (g) => {
    if (x.requiresGrad) accumulate(x, multiply(k, "matmulNN", g, weight, batch, outFeatures, inFeatures));
    if (weight.requiresGrad) accumulate(weight, multiply(k, "matmulTN", g, x, outFeatures, batch, inFeatures));
    if (bias?.requiresGrad) {
      const gb = Tensor.empty(bias.shape);
      k.sumRows(g.ptr, batch, outFeatures, gb.ptr); // column sums (kernels/reduce.ts)
      accumulate(bias, gb);
    }
  });
}
