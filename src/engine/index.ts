// The compute core: tensors, kernels, autograd, layers, optimisers, codecs, compact id tables, vector indexes, parameter files, parallel training.
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
export { Rng, normalInit, uniformInit, xavierUniform, xavierNormal, kaimingUniform, type Init } from "./random.js";
export * as optim from "./optim.js";
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
export { scoreAllRows, scoreTableRows, scoreTableLists, type ScoreVector } from "./scoring.js";
export { FileError } from "./errors.js";
export {
  quantizeInt8,
  dequantizeInt8,
  storedRowsPerScale,
  Int8Table,
  toFloat16,
  fromFloat16,
  type Int8Matrix,
  type QuantizeOptions,
} from "./codecs/int8-table.js";
export { lowRank, reconstruct, lowRankParams, lowRankBytes, type LowRank } from "./codecs/lowrank.js";
export { pruneMagnitude, pruneColumns, pruneRows, type StructuredPrune } from "./codecs/prune.js";
export {
  QREmbedding,
  HashedEmbedding,
  hashId,
  idTable,
  type IdTable,
  type IdTableOf,
  type IdTableSpec,
  type QRCombine,
  type QREmbeddingOptions,
  type HashedEmbeddingOptions,
} from "./tables.js";
export {
  ExactIndex,
  IvfIndex,
  measureRecall,
  type IvfOptions,
  type IvfSearchOptions,
  type Precision,
  type Ranked,
  type SearchOptions,
  type VectorSearch,
} from "./retrieval.js";
