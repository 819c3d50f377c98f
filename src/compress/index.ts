// Model compression: post-training quantisation, low-rank factorisation, magnitude pruning and compositional embeddings.
export {
  quantizeInt8,
  dequantizeInt8,
  storedRowsPerScale,
  Int8Table,
  toFloat16,
  fromFloat16,
  type Int8Matrix,
  type QuantizeOptions,
} from "./quantize.js";
export { lowRank, reconstruct, lowRankParams, lowRankBytes, type LowRank } from "./lowrank.js";
export { pruneMagnitude, pruneColumns, pruneRows, type StructuredPrune } from "./prune.js";
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
} from "./hashed.js";
export {
  compress,
  describeStep,
  parseSteps,
  project,
  type CompressionStep,
  type CompressOptions,
  type CompressionResult,
  type OnExceed,
  type PlannedStorage,
  type PruneStructure,
  type Quality,
  type StepReport,
} from "./schedule.js";
export {
  compressArtefact,
  COMPRESS_EVALUATION,
  type CompressArtefactOptions,
  type CompressArtefactResult,
  type ModelRow,
} from "./run.js";
