// The compute core: tensors, kernels, autograd, layers, optimisers, parameter files, parallel training.
export { Runtime, Arena, runtime, attachRuntime, type Kernels } from "./runtime.js";
export {
  Tensor,
  noGrad,
  isGradEnabled,
  endStep,
  record,
  accumulate,
  accumulateSparse,
  type Shape,
  type SparseRows,
} from "./tensor.js";
export * as ops from "./ops/index.js";
export { Ids } from "./ops/embedding.js";
export * as nn from "./nn.js";
export { Module } from "./nn.js";
export { Rng, normalInit, uniformInit, xavierUniform, kaimingUniform, type Init } from "./random.js";
export * as optim from "./optim.js";
export * as schedule from "./schedule.js";
export {
  encodeParameters,
  decodeParameters,
  saveParameters,
  loadParameters,
  loadInto,
  ParameterFileError,
  FORMAT_VERSION,
  type DecodedParameters,
  type DecodedTensor,
} from "./serialize.js";
export {
  TrainingPool,
  runShard,
  shareArray,
  type SharedData,
  type Trainable,
  type TrainProgram,
  type PoolOptions,
  type EpochOptions,
  type EpochResult,
} from "./parallel.js";
export { matmulGflops } from "./profile.js";
export { FileError } from "./errors.js";
