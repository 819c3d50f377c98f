/**
 * The typed table of the WebAssembly kernels (src/engine/kernels/, entry index.ts): one method per
 * exported kernel, with its parameters named. A Ptr is a byte offset into the shared memory (usize in
 * the kernels); every other parameter is a count (i32), a 0/1 flag (i32) or a scalar (f32); kernels
 * returning f64 or i32 return a number.
 *
 * KERNEL_ARITY is the runtime list of kernel names (and each one's parameter count). The compiler
 * holds it to the interface, bindKernels() holds the compiled module to it, and a test holds it to
 * the module's function exports, so the three cannot drift apart.
 */

/** A byte offset into the runtime's shared memory (usize in the kernels). */
export type Ptr = number;

/** The per-step constants both Adam kernels take last, in order (see kernels/optim.ts adamAt). */
export type AdamStep = [
  stepSize: number,
  beta1: number,
  oneMinusBeta1: number,
  beta2: number,
  oneMinusBeta2: number,
  invSqrtBc2: number,
  eps: number,
  l2: number,
  shrink: number,
];

/** attentionPool's parameters, which its backward takes first (see kernels/bags.ts). */
export type AttentionPool = [
  values: Ptr,
  n: number,
  offsets: Ptr,
  bags: number,
  query: Ptr,
  queryStride: number,
  dim: number,
  scale: number,
  weights: Ptr,
  out: Ptr,
];

/** The inputs both attention kernels take first (see kernels/transformer.ts). */
export type Attention = [
  q: Ptr,
  k: Ptr,
  v: Ptr,
  valid: Ptr,
  batch: number,
  len: number,
  queries: number,
  heads: number,
  headDim: number,
  causal: number,
  scale: number,
  dropMask: Ptr,
];

/** The rows both top-k kernels scan and the heap they fill, after their table and query (kernels/retrieval.ts). */
export type TopKScan = [
  count: number,
  dim: number,
  ids: Ptr,
  mask: Ptr,
  k: number,
  items: Ptr,
  scores: Ptr,
  size: number,
];

export interface Kernels {
  // Elementwise arithmetic over n floats (kernels/elementwise.ts)
  add(a: Ptr, b: Ptr, out: Ptr, n: number): void;
  sub(a: Ptr, b: Ptr, out: Ptr, n: number): void;
  mul(a: Ptr, b: Ptr, out: Ptr, n: number): void;
  scale(a: Ptr, s: number, out: Ptr, n: number): void;
  axpy(alpha: number, x: Ptr, y: Ptr, n: number): void;
  fill(out: Ptr, v: number, n: number): void;
  sum(a: Ptr, n: number): number;
  div(a: Ptr, b: Ptr, out: Ptr, n: number): void;
  addScalar(a: Ptr, s: number, out: Ptr, n: number): void;
  binaryTiled(op: number, a: Ptr, b: Ptr, out: Ptr, rows: number, n: number): void;
  binaryPerRow(op: number, a: Ptr, b: Ptr, out: Ptr, rows: number, n: number): void;
  copyBlock(src: Ptr, srcStride: number, dst: Ptr, dstStride: number, rows: number, cols: number): void;
  // Embedding rows: gather, scatter, row products (kernels/embedding.ts)
  gather(table: Ptr, idx: Ptr, n: number, dim: number, out: Ptr): void;
  scatterAdd(rows: Ptr, idx: Ptr, n: number, dim: number, table: Ptr): void;
  rowDot(a: Ptr, b: Ptr, n: number, dim: number, out: Ptr): void;
  matVec(table: Ptr, vector: Ptr, rows: number, dim: number, out: Ptr): void;
  rowScale(x: Ptr, s: Ptr, n: number, dim: number, out: Ptr, acc: number): void;
  dotIndexed(table: Ptr, rows: Ptr, queries: Ptr, owners: Ptr, n: number, dim: number, out: Ptr): void;
  // Pointwise activations and their backward passes (kernels/activations.ts)
  logSigmoid(x: Ptr, out: Ptr, n: number): void;
  logSigmoidBackward(x: Ptr, g: Ptr, gx: Ptr, n: number): void;
  pointwiseExp(x: Ptr, out: Ptr, n: number): void;
  pointwiseLog(x: Ptr, out: Ptr, n: number): void;
  relu(x: Ptr, out: Ptr, n: number): void;
  reluBackward(x: Ptr, g: Ptr, gx: Ptr, n: number): void;
  sigmoid(x: Ptr, out: Ptr, n: number): void;
  sigmoidBackward(y: Ptr, g: Ptr, gx: Ptr, n: number): void;
  tanh(x: Ptr, out: Ptr, n: number): void;
  tanhBackward(y: Ptr, g: Ptr, gx: Ptr, n: number): void;
  gelu(x: Ptr, out: Ptr, n: number): void;
  geluBackward(x: Ptr, g: Ptr, gx: Ptr, n: number): void;
  softplus(x: Ptr, out: Ptr, n: number): void;
  softplusBackward(x: Ptr, g: Ptr, gx: Ptr, n: number): void;
  // Softmax over the last dimension and fused losses (kernels/softmax.ts)
  softmaxRows(x: Ptr, out: Ptr, rows: number, n: number, invT: number): void;
  logSoftmaxRows(x: Ptr, out: Ptr, rows: number, n: number, invT: number): void;
  softmaxBackward(y: Ptr, g: Ptr, gx: Ptr, rows: number, n: number, invT: number): void;
  logSoftmaxBackward(lp: Ptr, g: Ptr, gx: Ptr, rows: number, n: number, invT: number): void;
  softCrossEntropyBackward(lp: Ptr, t: Ptr, rows: number, n: number, scale: number, gx: Ptr): void;
  crossEntropyBackward(lp: Ptr, target: Ptr, rows: number, n: number, scale: number, gx: Ptr): void;
  sampledSoftmaxRows(pos: Ptr, neg: Ptr, rows: number, n: number, probs: Ptr, posProbs: Ptr): number;
  sampledSoftmaxBackward(probs: Ptr, posProbs: Ptr, rows: number, n: number, scale: number, gPos: Ptr, gNeg: Ptr): void;
  klDivSum(lp: Ptr, lq: Ptr, n: number): number;
  klDivBackward(lp: Ptr, lq: Ptr, n: number, scale: number, gx: Ptr): void;
  bceWithLogitsSum(x: Ptr, t: Ptr, w: Ptr, n: number): number;
  bceWithLogitsBackward(x: Ptr, t: Ptr, w: Ptr, n: number, scale: number, gx: Ptr): void;
  // Reductions (kernels/reduce.ts)
  sumLastDim(x: Ptr, rows: number, n: number, out: Ptr): void;
  sumRows(x: Ptr, rows: number, n: number, out: Ptr): void;
  dot(a: Ptr, b: Ptr, n: number): number;
  spreadLastDim(x: Ptr, rows: number, n: number, s: number, out: Ptr): void;
  // Optimiser updates, dense and per row (kernels/optim.ts)
  sgdDense(
    param: Ptr,
    grad: Ptr,
    buf: Ptr,
    n: number,
    lr: number,
    weightDecay: number,
    momentum: number,
    nesterov: number,
  ): void;
  sgdRows(
    param: Ptr,
    dim: number,
    ids: Ptr,
    grads: Ptr,
    count: number,
    buf: Ptr,
    lr: number,
    weightDecay: number,
    momentum: number,
    nesterov: number,
  ): void;
  adagradDense(param: Ptr, grad: Ptr, sum: Ptr, n: number, lr: number, eps: number, weightDecay: number): void;
  adagradRows(
    param: Ptr,
    dim: number,
    ids: Ptr,
    grads: Ptr,
    count: number,
    sum: Ptr,
    lr: number,
    eps: number,
    weightDecay: number,
  ): void;
  adamDense(param: Ptr, grad: Ptr, m: Ptr, v: Ptr, n: number, ...step: AdamStep): void;
  adamRows(param: Ptr, dim: number, ids: Ptr, grads: Ptr, count: number, m: Ptr, v: Ptr, ...step: AdamStep): void;
  coalesceRows(
    indices: Ptr,
    rows: Ptr,
    count: number,
    dim: number,
    tableRows: number,
    slots: Ptr,
    uniqueIds: Ptr,
    uniqueGrads: Ptr,
    copies: Ptr,
    counters: Ptr,
  ): number;
  // Embedding bags and attention pooling (kernels/bags.ts)
  embeddingBag(table: Ptr, ids: Ptr, n: number, offsets: Ptr, bags: number, dim: number, mean: number, out: Ptr): void;
  embeddingBagBackward(g: Ptr, n: number, offsets: Ptr, bags: number, dim: number, mean: number, rows: Ptr): void;
  attentionPool(...pool: AttentionPool): void;
  attentionPoolBackward(...args: [...pool: AttentionPool, g: Ptr, gradValues: Ptr, gradQuery: Ptr]): void;
  // Packed SIMD matrix multiply (kernels/matmul.ts)
  matmulScratchBytes(k: number, n: number): number;
  matmulNN(a: Ptr, b: Ptr, c: Ptr, m: number, k: number, n: number, accumulate: number, scratch: Ptr): void;
  matmulNT(a: Ptr, b: Ptr, c: Ptr, m: number, k: number, n: number, accumulate: number, scratch: Ptr): void;
  matmulTN(a: Ptr, b: Ptr, c: Ptr, m: number, k: number, n: number, accumulate: number, scratch: Ptr): void;
  addRowBias(out: Ptr, bias: Ptr, rows: number, cols: number): void;
  // Int8 scoring (kernels/quantized.ts)
  int8MatVec(table: Ptr, vector: Ptr, scales: Ptr, vectorScale: number, rows: number, dim: number, out: Ptr): void;
  int8MatVecRows(
    table: Ptr,
    rows: Ptr,
    vector: Ptr,
    scales: Ptr,
    vectorScale: number,
    count: number,
    dim: number,
    out: Ptr,
  ): void;
  // Top-k retrieval (kernels/retrieval.ts)
  topKF32(table: Ptr, query: Ptr, ...scan: TopKScan): number;
  topKInt8(table: Ptr, rowScales: Ptr, query: Ptr, queryScale: number, ...scan: TopKScan): number;
  sortTopK(items: Ptr, scores: Ptr, size: number): void;
  // Transformer blocks: layer norm, fused attention, dropout masks (kernels/transformer.ts)
  layerNorm(x: Ptr, gamma: Ptr, beta: Ptr, out: Ptr, mean: Ptr, rstd: Ptr, rows: number, n: number, eps: number): void;
  layerNormBackward(
    x: Ptr,
    gamma: Ptr,
    mean: Ptr,
    rstd: Ptr,
    g: Ptr,
    gx: Ptr,
    gGamma: Ptr,
    gBeta: Ptr,
    rows: number,
    n: number,
  ): void;
  attention(...args: [...attention: Attention, probs: Ptr, out: Ptr]): void;
  attentionBackward(
    ...args: [...attention: Attention, probs: Ptr, gOut: Ptr, gq: Ptr, gk: Ptr, gv: Ptr, scratch: Ptr]
  ): void;
  dropoutMask(out: Ptr, n: number, p: number, seed: number): void;
}

export type KernelName = keyof Kernels;

/** Every kernel and its parameter count; the type makes the compiler check both against Kernels. */
export const KERNEL_ARITY: { readonly [K in KernelName]: Parameters<Kernels[K]>["length"] } = {
  add: 4,
  sub: 4,
  mul: 4,
  scale: 4,
  axpy: 4,
  fill: 3,
  sum: 2,
  div: 4,
  addScalar: 4,
  binaryTiled: 6,
  binaryPerRow: 6,
  copyBlock: 6,
  gather: 5,
  scatterAdd: 5,
  rowDot: 5,
  matVec: 5,
  rowScale: 6,
  dotIndexed: 7,
  logSigmoid: 3,
  logSigmoidBackward: 4,
  pointwiseExp: 3,
  pointwiseLog: 3,
  relu: 3,
  reluBackward: 4,
  sigmoid: 3,
  sigmoidBackward: 4,
  tanh: 3,
  tanhBackward: 4,
  gelu: 3,
  geluBackward: 4,
  softplus: 3,
  softplusBackward: 4,
  softmaxRows: 5,
  logSoftmaxRows: 5,
  softmaxBackward: 6,
  logSoftmaxBackward: 6,
  softCrossEntropyBackward: 6,
  crossEntropyBackward: 6,
  sampledSoftmaxRows: 6,
  sampledSoftmaxBackward: 7,
  klDivSum: 3,
  klDivBackward: 5,
  bceWithLogitsSum: 4,
  bceWithLogitsBackward: 6,
  sumLastDim: 4,
  sumRows: 4,
  dot: 3,
  spreadLastDim: 5,
  sgdDense: 8,
  sgdRows: 10,
  adagradDense: 7,
  adagradRows: 9,
  adamDense: 14,
  adamRows: 16,
  coalesceRows: 10,
  embeddingBag: 8,
  embeddingBagBackward: 7,
  attentionPool: 10,
  attentionPoolBackward: 13,
  matmulScratchBytes: 2,
  matmulNN: 8,
  matmulNT: 8,
  matmulTN: 8,
  addRowBias: 4,
  int8MatVec: 7,
  int8MatVecRows: 8,
  topKF32: 10,
  topKInt8: 12,
  sortTopK: 3,
  layerNorm: 9,
  layerNormBackward: 10,
  attention: 14,
  attentionBackward: 18,
  dropoutMask: 4,
};

/** The kernel names, in the order of the kernel sources. */
export const KERNEL_NAMES = Object.keys(KERNEL_ARITY) as readonly KernelName[];

/**
 * The kernel table over an instance's exports: throws naming the first kernel the module lacks or
 * exports with another parameter count, or a function it exports that the table does not name.
 */
export function bindKernels(exports: Readonly<Record<string, unknown>>): Kernels {
  for (const name of KERNEL_NAMES) {
    const fn = exports[name];
    if (typeof fn !== "function") {
      throw new Error(`distillrec: the kernel module does not export ${name} (rebuild it: npm run build:wasm)`);
    }
    if (fn.length !== KERNEL_ARITY[name]) {
      throw new Error(
        `distillrec: kernel ${name} takes ${fn.length} parameters, the kernel table says ${KERNEL_ARITY[name]}`,
      );
    }
  }
  for (const [name, value] of Object.entries(exports)) {
    if (typeof value === "function" && !Object.hasOwn(KERNEL_ARITY, name)) {
      throw new Error(`distillrec: the kernel module exports ${name}, which the kernel table does not name`);
    }
  }
  return exports as unknown as Kernels;
}
