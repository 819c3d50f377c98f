/**
 * The typed table of the WebAssembly kernels (src/engine/kernels/, entry index.ts): one method per
 * exported kernel, with its parameters named. Every pointer is a byte offset into the shared memory,
 * every count an i32; flags are 0 or 1; kernels returning f64 or i32 return a number.
 *
 * KERNEL_ARITY is the runtime list of kernel names (and each one's parameter count). The compiler
 * holds it to the interface, bindKernels() holds the compiled module to it, and a test holds it to
 * the module's function exports, so the three cannot drift apart.
 */
export interface Kernels {
  // Elementwise arithmetic over n floats (kernels/elementwise.ts)
  add(a: number, b: number, out: number, n: number): void;
  sub(a: number, b: number, out: number, n: number): void;
  mul(a: number, b: number, out: number, n: number): void;
  scale(a: number, s: number, out: number, n: number): void;
  axpy(alpha: number, x: number, y: number, n: number): void;
  fill(out: number, v: number, n: number): void;
  sum(a: number, n: number): number;
  div(a: number, b: number, out: number, n: number): void;
  addScalar(a: number, s: number, out: number, n: number): void;
  binaryTiled(op: number, a: number, b: number, out: number, rows: number, n: number): void;
  binaryPerRow(op: number, a: number, b: number, out: number, rows: number, n: number): void;
  copyBlock(src: number, srcStride: number, dst: number, dstStride: number, rows: number, cols: number): void;
  // Embedding rows: gather, scatter, row products (kernels/embedding.ts)
  gather(table: number, idx: number, n: number, dim: number, out: number): void;
  scatterAdd(rows: number, idx: number, n: number, dim: number, table: number): void;
  rowDot(a: number, b: number, n: number, dim: number, out: number): void;
  matVec(table: number, vector: number, rows: number, dim: number, out: number): void;
  rowScale(x: number, s: number, n: number, dim: number, out: number, acc: number): void;
  // Pointwise activations and their backward passes (kernels/activations.ts)
  logSigmoid(x: number, out: number, n: number): void;
  logSigmoidBackward(x: number, g: number, gx: number, n: number): void;
  pointwiseExp(x: number, out: number, n: number): void;
  pointwiseLog(x: number, out: number, n: number): void;
  relu(x: number, out: number, n: number): void;
  reluBackward(x: number, g: number, gx: number, n: number): void;
  sigmoid(x: number, out: number, n: number): void;
  sigmoidBackward(y: number, g: number, gx: number, n: number): void;
  tanh(x: number, out: number, n: number): void;
  tanhBackward(y: number, g: number, gx: number, n: number): void;
  gelu(x: number, out: number, n: number): void;
  geluBackward(x: number, g: number, gx: number, n: number): void;
  softplus(x: number, out: number, n: number): void;
  softplusBackward(x: number, g: number, gx: number, n: number): void;
  // Softmax over the last dimension and fused losses (kernels/softmax.ts)
  softmaxRows(x: number, out: number, rows: number, n: number, invT: number): void;
  logSoftmaxRows(x: number, out: number, rows: number, n: number, invT: number): void;
  softmaxBackward(y: number, g: number, gx: number, rows: number, n: number, invT: number): void;
  logSoftmaxBackward(lp: number, g: number, gx: number, rows: number, n: number, invT: number): void;
  softCrossEntropyBackward(lp: number, t: number, rows: number, n: number, scale: number, gx: number): void;
  crossEntropyBackward(lp: number, target: number, rows: number, n: number, scale: number, gx: number): void;
  klDivSum(lp: number, lq: number, n: number): number;
  klDivBackward(lp: number, lq: number, n: number, scale: number, gx: number): void;
  bceWithLogitsSum(x: number, t: number, w: number, n: number): number;
  bceWithLogitsBackward(x: number, t: number, w: number, n: number, scale: number, gx: number): void;
  // Reductions (kernels/reduce.ts)
  sumLastDim(x: number, rows: number, n: number, out: number): void;
  sumRows(x: number, rows: number, n: number, out: number): void;
  dot(a: number, b: number, n: number): number;
  spreadLastDim(x: number, rows: number, n: number, s: number, out: number): void;
  // Optimiser updates, dense and per row (kernels/optim.ts)
  sgdDense(
    param: number,
    grad: number,
    buf: number,
    n: number,
    lr: number,
    weightDecay: number,
    momentum: number,
    nesterov: number,
  ): void;
  sgdRows(
    param: number,
    dim: number,
    ids: number,
    grads: number,
    count: number,
    buf: number,
    lr: number,
    weightDecay: number,
    momentum: number,
    nesterov: number,
  ): void;
  adagradDense(param: number, grad: number, sum: number, n: number, lr: number, eps: number, weightDecay: number): void;
  adagradRows(
    param: number,
    dim: number,
    ids: number,
    grads: number,
    count: number,
    sum: number,
    lr: number,
    eps: number,
    weightDecay: number,
  ): void;
  adamDense(
    param: number,
    grad: number,
    m: number,
    v: number,
    n: number,
    stepSize: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    invSqrtBc2: number,
    eps: number,
    l2: number,
    shrink: number,
  ): void;
  adamRows(
    param: number,
    dim: number,
    ids: number,
    grads: number,
    count: number,
    m: number,
    v: number,
    stepSize: number,
    beta1: number,
    oneMinusBeta1: number,
    beta2: number,
    oneMinusBeta2: number,
    invSqrtBc2: number,
    eps: number,
    l2: number,
    shrink: number,
  ): void;
  coalesceRows(
    indices: number,
    rows: number,
    count: number,
    dim: number,
    tableRows: number,
    slots: number,
    uniqueIds: number,
    uniqueGrads: number,
    copies: number,
    counters: number,
  ): number;
  // Embedding bags and attention pooling (kernels/bags.ts)
  embeddingBag(
    table: number,
    ids: number,
    n: number,
    offsets: number,
    bags: number,
    dim: number,
    mean: number,
    out: number,
  ): void;
  embeddingBagBackward(
    g: number,
    n: number,
    offsets: number,
    bags: number,
    dim: number,
    mean: number,
    rows: number,
  ): void;
  attentionPool(
    values: number,
    n: number,
    offsets: number,
    bags: number,
    query: number,
    queryStride: number,
    dim: number,
    scale: number,
    weights: number,
    out: number,
  ): void;
  attentionPoolBackward(
    values: number,
    n: number,
    offsets: number,
    bags: number,
    query: number,
    queryStride: number,
    dim: number,
    scale: number,
    weights: number,
    out: number,
    g: number,
    gradValues: number,
    gradQuery: number,
  ): void;
  // Packed SIMD matrix multiply (kernels/matmul.ts)
  matmulScratchBytes(k: number, n: number): number;
  matmulNN(a: number, b: number, c: number, m: number, k: number, n: number, accumulate: number, scratch: number): void;
  matmulNT(a: number, b: number, c: number, m: number, k: number, n: number, accumulate: number, scratch: number): void;
  matmulTN(a: number, b: number, c: number, m: number, k: number, n: number, accumulate: number, scratch: number): void;
  addRowBias(out: number, bias: number, rows: number, cols: number): void;
  // Int8 scoring (kernels/quantized.ts)
  int8MatVec(
    table: number,
    vector: number,
    scales: number,
    vectorScale: number,
    rows: number,
    dim: number,
    out: number,
  ): void;
  int8MatVecRows(
    table: number,
    rows: number,
    vector: number,
    scales: number,
    vectorScale: number,
    count: number,
    dim: number,
    out: number,
  ): void;
  // Top-k retrieval (kernels/retrieval.ts)
  topKF32(
    table: number,
    query: number,
    count: number,
    dim: number,
    ids: number,
    mask: number,
    k: number,
    items: number,
    scores: number,
    size: number,
  ): number;
  topKInt8(
    table: number,
    rowScales: number,
    query: number,
    queryScale: number,
    count: number,
    dim: number,
    ids: number,
    mask: number,
    k: number,
    items: number,
    scores: number,
    size: number,
  ): number;
  sortTopK(items: number, scores: number, size: number): void;
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
};

/** The kernel names, in the order of the kernel sources. */
export const KERNEL_NAMES = Object.keys(KERNEL_ARITY) as readonly KernelName[];

/**
 * The kernel table over an instance's exports: throws naming the first kernel the module lacks or
 * exports with another parameter count.
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
  return exports as unknown as Kernels;
}
