// Transformer ops: layer normalisation, fused multi-head scaled dot-product attention, dropout.
import { runtime } from "../runtime.js";
import { Tensor, accumulate, record } from "../tensor.js";
import { Ids, embedding } from "./embedding.js";

function shapeText(t: Tensor): string {
  return `[${t.shape.join(", ")}]`;
}

/**
 * LayerNorm over the last dimension (torch.nn.functional.layer_norm): (x − mean) / sqrt(var + eps) · gamma + beta,
 * the variance biased; gamma and beta are [n].
 */
export function layerNorm(x: Tensor, gamma: Tensor, beta: Tensor, eps = 1e-5): Tensor {
  const n = x.shape.at(-1);
  if (
    n === undefined ||
    gamma.shape.length !== 1 ||
    gamma.shape[0] !== n ||
    beta.shape.length !== 1 ||
    beta.shape[0] !== n
  ) {
    throw new RangeError(
      `layerNorm: input ${shapeText(x)} needs gamma and beta of [${n ?? "n"}], got ${shapeText(gamma)} and ${shapeText(beta)}`,
    );
  }
  if (!(eps > 0)) throw new RangeError(`layerNorm: eps must be positive, got ${eps}`);
  const rows = n === 0 ? 0 : x.size / n;
  const k = x.rt.kernels;
  const out = Tensor.empty(x.shape);
  const mean = Tensor.empty([rows]);
  const rstd = Tensor.empty([rows]);
  k.layerNorm(x.ptr, gamma.ptr, beta.ptr, out.ptr, mean.ptr, rstd.ptr, rows, n, eps);
  return record(out, [x, gamma, beta], (g) => {
    const gx = Tensor.empty(x.shape);
    const gGamma = Tensor.zeros([n]);
    const gBeta = Tensor.zeros([n]);
    k.layerNormBackward(x.ptr, gamma.ptr, mean.ptr, rstd.ptr, g.ptr, gx.ptr, gGamma.ptr, gBeta.ptr, rows, n);
    accumulate(x, gx);
    accumulate(gamma, gGamma);
    accumulate(beta, gBeta);
  });
}

export interface AttentionOptions {
  /** Sequences in the batch; k and v are [batch · length, heads · headDim]. */
  batch: number;
  length: number;
  heads: number;
  /**
   * How many of each sequence's last positions ask: q and the output are [batch · queries, heads · headDim]
   * (default length: every position). A user's state needs the last position alone.
   */
  queries?: number;
  /** Position t attends to positions ≤ t only (default true). */
  causal?: boolean;
  /**
   * 1 for a real position, 0 for padding, per row of q ([batch · length]; default all real): padded keys get
   * no weight, and a query with nothing to attend outputs zeros.
   */
  valid?: Int32Array | Ids;
  /** Dropout on the attention weights: probability and the mask's seed (default none). */
  dropout?: { p: number; seed: number };
}

/**
 * Multi-head scaled dot-product attention, fused: per sequence and head, softmax(q kᵀ / √headDim) under the
 * causal and padding masks, times v. k and v are [batch · length, heads · headDim], q and the output
 * [batch · queries, heads · headDim] (the last `queries` positions of each sequence), head h in columns
 * h·headDim …, as linear projections lay them out (no transposes).
 */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts: AttentionOptions): Tensor {
  const { batch, length, heads } = opts;
  const queries = opts.queries ?? length;
  if (!(Number.isInteger(queries) && queries >= 1 && queries <= length)) {
    throw new RangeError(`attention: queries must be an integer in 1..${length}, got ${queries}`);
  }
  const rows = batch * length;
  const width = k.shape[1];
  if (k.shape.length !== 2 || k.shape[0] !== rows || width === undefined) {
    throw new RangeError(`attention: k ${shapeText(k)} is not [batch · length = ${rows}, width]`);
  }
  if (v.shape.length !== 2 || v.shape[0] !== rows || v.shape[1] !== width) {
    throw new RangeError(`attention: v ${shapeText(v)} must match k ${shapeText(k)}`);
  }
  if (q.shape.length !== 2 || q.shape[0] !== batch * queries || q.shape[1] !== width) {
    throw new RangeError(`attention: q ${shapeText(q)} is not [batch · queries = ${batch * queries}, ${width}]`);
  }
  if (!(Number.isInteger(heads) && heads >= 1 && width % heads === 0)) {
    throw new RangeError(`attention: ${heads} heads do not divide the width ${width}`);
  }
  const valid = opts.valid instanceof Ids ? opts.valid : new Ids(opts.valid ?? new Int32Array(rows).fill(1));
  if (valid.length !== rows) throw new RangeError(`attention: valid has ${valid.length} entries, not ${rows}`);
  const headDim = width / heads;
  const scale = 1 / Math.sqrt(headDim);
  const causal = (opts.causal ?? true) ? 1 : 0;
  const weights = heads * batch * queries * length;
  const kern = q.rt.kernels;
  const p = opts.dropout?.p ?? 0;
  if (!(p >= 0 && p < 1)) throw new RangeError(`attention: dropout must be in [0, 1), got ${p}`);
  const mask = p > 0 ? Tensor.empty([weights]) : null;
  if (mask) kern.dropoutMask(mask.ptr, weights, p, opts.dropout!.seed | 0);
  const probs = Tensor.empty([weights]);
  const out = Tensor.empty(q.shape);
  // What the forward and backward kernels both take first (kernel-table.ts Attention).
  const common = [
    q.ptr,
    k.ptr,
    v.ptr,
    valid.ptr,
    batch,
    length,
    queries,
    heads,
    headDim,
    causal,
    scale,
    mask?.ptr ?? 0,
  ] as const;
  kern.attention(...common, probs.ptr, out.ptr);
  return record(out, [q, k, v], (g) => {
    const gq = Tensor.empty(q.shape);
    const gk = Tensor.empty(k.shape);
    const gv = Tensor.empty(v.shape);
    const scratch = q.rt.scratch.alloc(length * 4);
    kern.attentionBackward(...common, probs.ptr, g.ptr, gq.ptr, gk.ptr, gv.ptr, scratch);
    accumulate(q, gq);
    accumulate(k, gk);
    accumulate(v, gv);
  });
}

/**
 * The rows of the last `count` positions of each of `batch` sequences of `length` rows: x [batch · length, …]
 * → [batch · count, …], what attention's `queries` option asks with.
 */
export function lastPositions(x: Tensor, batch: number, length: number, count: number): Tensor {
  if (count === length) return x;
  const ids = new Int32Array(batch * count);
  for (let b = 0; b < batch; b++) {
    for (let i = 0; i < count; i++) ids[b * count + i] = b * length + length - count + i;
  }
  return embedding(x, ids);
}

/** A fresh seed for a kernel's random stream, from any generator of [0, 1) draws. */
export function maskSeed(rng: { next(): number }): number {
  return (Math.floor(rng.next() * 0x7fffffff) | 1) >>> 0;
}

/** Inverted dropout with the kernel's own stream: each element zeroed with probability p, the rest scaled by 1/(1 − p). */
export function dropout(x: Tensor, p: number, seed: number): Tensor {
  if (!(p >= 0 && p <= 1)) throw new RangeError(`dropout: p must be in [0, 1], got ${p}`);
  if (p === 0) return x;
  const mask = Tensor.empty(x.shape);
  runtime().kernels.dropoutMask(mask.ptr, x.size, p, seed | 0);
  const out = Tensor.empty(x.shape);
  const kern = x.rt.kernels;
  kern.mul(x.ptr, mask.ptr, out.ptr, x.size);
  return record(out, [x], (g) => {
    const gx = Tensor.empty(x.shape);
    kern.mul(g.ptr, mask.ptr, gx.ptr, x.size);
    accumulate(x, gx);
  });
}
