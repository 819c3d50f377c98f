export { Runtime, Arena, runtime, attachRuntime, type Kernels } from "./runtime.js";
export { Tensor, noGrad, endStep, type Shape, type SparseRows } from "./tensor.js";
export * as ops from "./ops/index.js";
